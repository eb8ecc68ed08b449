"""The soak's phases on a running stack: the territory, the ramp to the ceiling, the steady run
at half of it with every kind of work, the drain, and the effects read back through the APIs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from benchmarks.soak import analysis, load, plot, probes
from benchmarks.soak.analysis import Effects, Step
from benchmarks.soak.load import Api, Cast, Clock, Ledger
from benchmarks.soak.receiver import Partner, partner_receiver

SAMPLE_S = 5.0  # backlog, lag and memory sampled this often
PROGRESS_S = 10.0  # a progress line this often
BROKER = "tansu"  # the development broker, watched beside the services
Points = list[tuple[float, float]]


def say(message: str) -> None:
    print(message, flush=True)


@dataclass
class Series:
    """The sampled figures of the steady run, by time in seconds since it started."""

    backlog: dict[str, Points] = field(default_factory=lambda: defaultdict(list))
    jobs: dict[str, Points] = field(default_factory=lambda: defaultdict(list))
    lag: dict[str, Points] = field(default_factory=lambda: defaultdict(list))
    rss: dict[str, Points] = field(default_factory=lambda: defaultdict(list))


def by_service(lags: Mapping[str, int]) -> dict[str, int]:
    """Consumer groups are named `<service>.<purpose>` (or `<service>-<purpose>`): their lag
    summed per service."""
    summed: dict[str, int] = defaultdict(int)
    for group, lag in lags.items():
        summed[group.replace("-", ".").split(".")[0]] += lag
    return dict(summed)


class Watch:
    """Samples backlog, lag and memory into a `Series`, and prints a progress line."""

    def __init__(
        self,
        clock: Clock,
        ledger: Ledger,
        backlogs: probes.Backlogs,
        lags: probes.Lags,
        ports: Mapping[str, int],
    ) -> None:
        self.clock, self.ledger = clock, ledger
        self.backlogs, self.lags = backlogs, lags
        self.processes = probes.listening(ports)
        self.series = Series()
        self.origin = clock.now()
        self.last: tuple[dict[str, int], dict[str, int]] = ({}, {})
        self.jobs: dict[str, int] = {}

    async def sample(self) -> tuple[dict[str, int], dict[str, int]]:
        t = self.clock.now() - self.origin
        backlog = await self.backlogs.read()
        jobs = await self.backlogs.due_jobs()
        lag = by_service(await self.lags.read())
        for name, rows in backlog.items():
            self.series.backlog[name].append((t, rows))
        for name, due in jobs.items():
            self.series.jobs[name].append((t, due))
        self.jobs = jobs
        for name, records in lag.items():
            self.series.lag[name].append((t, records))
        for name, mib in probes.rss_mib(self.processes).items():
            self.series.rss[name].append((t, mib))
        self.last = (backlog, lag)
        return self.last

    def line(self, partner: Partner) -> str:
        window = self.clock.since(self.clock.now() - PROGRESS_S)
        seconds = [s.seconds for s in window]
        needs = sum(1 for s in window if s.op == "needs") / PROGRESS_S
        backlog, lag = self.last
        led = self.ledger
        worst = " ".join(f"{n} {v}" for n, v in sorted(lag.items(), key=lambda i: -i[1])[:2])
        return (
            f"  {self.clock.now() - self.origin:6.0f}s  needs {needs:4.1f}/s  "
            f"requests {len(window) / PROGRESS_S:5.1f}/s  "
            f"p50 {analysis.percentile(seconds, 50) * 1000:5.0f} ms  "
            f"p99 {analysis.percentile(seconds, 99) * 1000:5.0f} ms  "
            f"backlog {sum(backlog.values()):4d}  jobs due {sum(self.jobs.values()):4d}  "
            f"lag {sum(lag.values()):5d} ({worst})  "
            f"confirmed {len(led.confirmed)}  signed {len(led.signed)}  "
            f"usage {sum(led.usage.values())}  votes {sum(led.votes.values())}  "
            f"webhooks {sum(partner.times.values())}"
        )

    async def run(self, stop: asyncio.Event, partner: Partner) -> None:
        next_line = self.clock.now() + PROGRESS_S
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a probe failing once leaves a gap, no more
                await self.sample()
            if self.clock.now() >= next_line:
                say(self.line(partner))
                next_line += PROGRESS_S
            await probes.wait_for(SAMPLE_S, stop)


async def background(
    stop: asyncio.Event, *jobs: tuple[float, Callable[[], Awaitable[None]]]
) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(load.every(s, job, stop)) for s, job in jobs]


# --- the ramp -------------------------------------------------------------------------------------


async def ramp_step(
    api: Api, cast: Cast, ledger: Ledger, backlogs: probes.Backlogs, lags: probes.Lags,
    rate: float, seconds: float, window_end: datetime,
) -> Step:  # fmt: skip
    """Needs published at `rate` for `seconds`, the outboxes, the jobs due and the consumers'
    lag sampled every 2 s meanwhile."""
    t0 = api.clock.now()
    points: dict[str, Points] = defaultdict(list)
    lag: dict[str, Points] = defaultdict(list)
    jobs: dict[str, Points] = defaultdict(list)
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            t = api.clock.now() - t0
            for name, rows in (await backlogs.read()).items():
                points[name].append((t, rows))
            for name, due in (await backlogs.due_jobs()).items():
                jobs[name].append((t, due))
            for name, records in by_service(await lags.read()).items():
                lag[name].append((t, records))
            await probes.wait_for(2.0, done)

    async def publish(n: int) -> None:
        owner = cast.publishers[n % len(cast.publishers)]
        await load.publish_need(api, ledger, owner, window_end, accept=False)

    watcher = asyncio.create_task(watch())
    sent = await load.paced(rate, seconds, publish)
    done.set()
    await watcher
    answered = api.clock.since(t0, "needs")
    return Step(
        rate,
        sent,
        analysis.percentile([s.seconds for s in answered], 99),
        sum(1 for s in answered if s.status == 0 or s.status >= 500),
        dict(points),
        dict(lag),
        dict(jobs),
    )


async def ramp(
    api: Api, cast: Cast, ledger: Ledger, backlogs: probes.Backlogs, lags: probes.Lags,
    args: argparse.Namespace, window_end: datetime,
) -> list[Step]:  # fmt: skip
    say(f"ramp: needs published at rising rates, {args.step_seconds:g} s each, until the p99 "
        f"passes {analysis.P99_LIMIT_S:g} s or an outbox backlog, a consumer's lag or the jobs "
        "due grow")  # fmt: skip
    steps: list[Step] = []
    stop = asyncio.Event()
    withdrawer = await background(stop, (2.0, lambda: load.withdraw_due(api, cast, ledger)))
    try:
        for rate in analysis.ramp_rates(args.start_rate, 1.5, args.max_rate):
            step = await ramp_step(
                api, cast, ledger, backlogs, lags, rate, args.step_seconds, window_end
            )
            steps.append(step)
            why = step.why_not_stable()
            backlog_end = {name: int(p[-1][1]) for name, p in step.backlog.items() if p}
            say(
                f"  {rate:5.1f}/s asked, {step.sent_rate:5.1f}/s sent, p99 "
                f"{step.p99_s * 1000:6.0f} ms, backlog at the end {sum(backlog_end.values())}: "
                + ("held" if why is None else f"NOT held ({why})")
            )
            if why is not None:
                break
    finally:
        stop.set()
        await asyncio.gather(*withdrawer)
    return steps


async def settle(backlogs: probes.Backlogs, lags: probes.Lags, limit_s: float) -> None:
    """Wait until every outbox is empty again and the consumers and schedulers have caught up
    (at most `limit_s`)."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while asyncio.get_running_loop().time() < deadline:
        if (
            sum((await backlogs.read()).values()) <= analysis.BACKLOG_NOISE_ROWS
            and sum((await backlogs.due_jobs()).values()) <= analysis.QUEUE_NOISE
            and sum((await lags.read()).values()) <= analysis.QUEUE_NOISE
        ):
            return
        await asyncio.sleep(2)


# --- the steady run -------------------------------------------------------------------------------


async def steady(
    api: Api, cast: Cast, ledger: Ledger, watch: Watch, partner: Partner, rate: float,
    args: argparse.Namespace, window_end: datetime,
) -> None:  # fmt: skip
    seconds = args.minutes * 60
    votes_rate = max(0.2, rate / 5)
    say(
        f"steady run: {args.minutes:g} min at {rate:g} needs/s (one in {args.accept_every} "
        f"accepted, signed and its use reported; the others withdrawn after "
        f"{load.WITHDRAW_AFTER_S:g} s), {votes_rate:g} votes/s, a new offer every minute"
    )
    stop = asyncio.Event()
    businesses = cast.businesses
    offered = iter(range(10**6))

    async def another_offer() -> None:
        await load.offer_van(api, cast, ledger, businesses[next(offered) % len(businesses)])

    tasks = await background(
        stop,
        (2.0, lambda: load.withdraw_due(api, cast, ledger)),
        (1.0, lambda: load.accept_proposals(api, cast, ledger)),
        (3.0, lambda: load.sign_and_report(api, cast, ledger)),
        (60.0, another_offer),
    )
    tasks.append(asyncio.create_task(watch.run(stop, partner)))

    async def publish(n: int) -> None:
        accept = n % args.accept_every == 0
        owner = cast.acceptor if accept else cast.publishers[n % len(cast.publishers)]
        await load.publish_need(api, ledger, owner, window_end, accept=accept)

    async def vote(n: int) -> None:
        await load.vote(api, cast, ledger, n)

    await asyncio.gather(load.paced(rate, seconds, publish), load.paced(votes_rate, seconds, vote))
    stop.set()
    await asyncio.gather(*tasks)


async def drain(
    api: Api, cast: Cast, ledger: Ledger, watch: Watch, partner: Partner, limit_s: float
) -> tuple[float, bool]:
    """Withdraw what is left to withdraw, then wait until outboxes and consumers are idle and
    no more webhooks come (at most `limit_s`); how long it took, and whether they were."""
    start = api.clock.now()
    await load.withdraw_due(api, cast, ledger, everything=True)
    quiet = 0
    heard = -1
    while api.clock.now() - start < limit_s:
        backlog, lag = await watch.sample()
        say(watch.line(partner))
        received = sum(partner.times.values())
        idle = sum(backlog.values()) == 0 and sum(lag.values()) == 0 and received == heard
        quiet = quiet + 1 if idle else 0
        if quiet >= 2:
            return api.clock.now() - start, True
        heard = received
        await asyncio.sleep(SAMPLE_S)
    return api.clock.now() - start, False


# --- the effects ----------------------------------------------------------------------------------


async def effects(
    api: Api, cast: Cast, ledger: Ledger, partner: Partner, subscription: str
) -> list[Effects]:
    found: list[Effects] = []
    listed = [n["id"] async for n in api.pages("offers", "/v1/needs", cast.facilitator)]
    found.append(analysis.tally("needs published, each listed once", ledger.needs, listed))
    agreements = [a async for a in api.pages("agreements", "/v1/agreements", cast.acceptor)]
    found.append(
        analysis.tally(
            "matches confirmed, each one agreement",
            ledger.confirmed,
            [a["match_id"] for a in agreements],
        )
    )
    reports: dict[str, int] = {}
    for agreement_id in ledger.usage:
        path = f"/v1/agreements/{agreement_id}/usage"
        reports[agreement_id] = len([r async for r in api.pages("agreements", path, cast.acceptor)])
    found.append(analysis.counted("usage reports, each recorded once", ledger.usage, reports))
    cast_votes: dict[str, int] = {}
    for voter in cast.members:
        path = f"/v1/proposals/{cast.motion_id}/votes/me"
        response = await api.call("governance", "GET", path, "read", actor=voter)
        if response is not None and response.is_success:
            cast_votes[voter.id] = len(response.json()["history"])
    found.append(
        analysis.counted("votes, each in the voter's history once", ledger.votes, cast_votes)
    )
    told = [e["data"]["need_id"] for e in partner.of_type("mcvt.need.published.v1")]
    found.append(
        analysis.tally("needs published, each told to the partner once", ledger.needs, told)
    )
    confirmed = [e["data"]["match_id"] for e in partner.of_type("mcvt.match.confirmed.v1")]
    found.append(
        analysis.tally(
            "matches confirmed, each told to the partner once", ledger.confirmed, confirmed
        )
    )
    path = f"/v1/subscriptions/{subscription}/deliveries"
    logged = [d async for d in api.pages("notifications", path, cast.facilitator)]
    succeeded = {d["event_id"] for d in logged if d["status"] == "succeeded"}
    pending = sum(1 for d in logged if d["status"] != "succeeded")
    received = analysis.tally(
        "webhook deliveries logged, each received once (by webhook-id)",
        [d["event_id"] for d in logged],
        [i for i in partner.times.elements() if i in succeeded],
    )
    found.append(
        Effects(received.name, received.expected, received.lost + pending, received.doubled)
    )
    return found


# --- the whole soak -------------------------------------------------------------------------------


async def soak(
    urls: Mapping[str, str], database_urls: Mapping[str, str], kafka: str, args: argparse.Namespace
) -> int:
    clock = Clock()
    api = Api(urls, clock)
    ledger = Ledger()
    try:
        async with (
            probes.backlogs(database_urls) as backlogs,
            probes.lags(kafka) as lags,
            partner_receiver() as partner,
        ):
            say("territory: a facilitator, businesses with a van each, associations, a motion, "
                "a partner's webhook")  # fmt: skip
            cast = await load.territory(
                api, database_urls["actors"], businesses=args.businesses, publishers=args.publishers
            )
            for business in cast.businesses:
                await load.offer_van(api, cast, ledger, business)
            subscription = await load.subscribe(api, cast, partner.url("soak"))
            await load.open_motion(api, cast)
            window_end = datetime.now(UTC) + timedelta(minutes=args.minutes + 90)
            if args.rate:
                ceiling, rate = math_nan(), args.rate
                say(f"ramp skipped: --rate {args.rate:g}")
            else:
                steps = await ramp(api, cast, ledger, backlogs, lags, args, window_end)
                ceiling = analysis.ceiling(steps)
                say(f"ceiling: {ceiling:g} needs/s (the last rate held)")
                # Below the first rate when none held: then half of that one.
                rate = ceiling / 2 if ceiling else args.start_rate / 2
                await settle(backlogs, lags, 300)
            ports = {name: urlsplit(url).port or 80 for name, url in urls.items()}
            ports[BROKER] = int(kafka.split(",")[0].rsplit(":", 1)[1])
            watch = Watch(clock, ledger, backlogs, lags, ports)
            await watch.sample()
            rss_start = probes.rss_mib(watch.processes)
            await steady(api, cast, ledger, watch, partner, rate, args, window_end)
            steady_end = clock.now() - watch.origin
            rss_end = probes.rss_mib(watch.processes)
            say("drain: waiting until outboxes, consumers and webhooks are idle")
            took, idle = await drain(api, cast, ledger, watch, partner, args.drain_seconds)
            say(
                f"  idle after {took:.0f} s"
                if idle
                else f"  NOT idle after {took:.0f} s: effects still in flight count as lost below"
            )
            try:
                found = await effects(api, cast, ledger, partner, subscription)
            except RuntimeError as error:  # a read that failed: the run's figures still count
                say(f"effects NOT read back: {error}")
                found = [Effects("effects read back (failed)", 1, 1, 0)]
            return report(
                args, clock, watch, ledger, found, ceiling, rate, steady_end, rss_start, rss_end
            )
    finally:
        await api.close()


def math_nan() -> float:
    return float("nan")


def report(
    args: argparse.Namespace, clock: Clock, watch: Watch, ledger: Ledger, found: list[Effects],
    ceiling: float, rate: float, steady_end: float, rss_start: Mapping[str, float],
    rss_end: Mapping[str, float],
) -> int:  # fmt: skip
    series = watch.series
    run = [s for s in clock.samples if watch.origin <= s.at <= watch.origin + steady_end]
    say("\nmemory (RSS, MiB) at the start and the end of the steady run:")
    for name in sorted(rss_start):
        say(f"  {name:<14} {rss_start[name]:7.1f} -> {rss_end.get(name, float('nan')):7.1f}")
    seconds = [s.seconds for s in run]
    say("\nrequests of the steady run by kind: count, p50, p99, failed (5xx or no answer)")
    for op in sorted({s.op for s in run}):
        mine = [s.seconds for s in run if s.op == op]
        bad = sum(1 for s in run if s.op == op and (s.status == 0 or s.status >= 500))
        say(
            f"  {op:<9} {len(mine):6d}  p50 {analysis.percentile(mine, 50) * 1000:6.0f} ms  "
            f"p99 {analysis.percentile(mine, 99) * 1000:6.0f} ms  failed {bad}"
        )
    say(
        f"  all       {len(seconds):6d}  p50 {analysis.percentile(seconds, 50) * 1000:6.0f} ms  "
        f"p99 {analysis.percentile(seconds, 99) * 1000:6.0f} ms"
    )
    say("\neffects read back through the APIs: expected, lost, doubled")
    for e in found:
        say(f"  {e.name:<64} {e.expected:6d} {e.lost:5d} {e.doubled:5d}")

    def steady_only(points: Points) -> Points:
        return [p for p in points if p[0] <= steady_end]

    def judged(what: str, by_service: Mapping[str, Points], unit: str) -> list[analysis.Trend]:
        steady = {name: steady_only(points) for name, points in by_service.items()}
        return analysis.trends_by_service(what, steady, unit)

    trends = [
        *judged("outbox backlog", series.backlog, "rows"),
        *judged("consumer lag", series.lag, "rows"),
        *judged("jobs due", series.jobs, "rows"),
        # Tansu's memory storage keeps every record it is sent (no retention, BROKER.md), so its
        # RSS grows with the load by design and is only shown.
        *judged("RSS", {k: v for k, v in series.rss.items() if k != BROKER}, "MiB"),
    ]
    say("\ntrends over the last half of the steady run: slope, rise fitted, largest rise flat")
    for trend in trends:
        say(
            f"  {trend.name:<28} {trend.per_minute:+8.2f} {trend.unit}/min  rise "
            f"{trend.rise:+8.1f} (flat up to {trend.limit:.1f})  "
            + ("flat" if trend.flat else "RISING")
        )
    if BROKER in series.rss:
        broker = analysis.trend_of(f"RSS {BROKER}", steady_only(series.rss[BROKER]), "MiB")
        say(
            f"  {broker.name:<28} {broker.per_minute:+8.2f} MiB/min  not judged: its memory "
            "storage keeps every record"
        )
    ok, line = analysis.verdict(trends, found)
    headline = (
        f"ceiling {ceiling:g} needs/s; steady run {args.minutes:g} min at {rate:g} needs/s; "
        f"{len(seconds)} requests, p50 {analysis.percentile(seconds, 50) * 1000:.0f} ms, "
        f"p99 {analysis.percentile(seconds, 99) * 1000:.0f} ms"
    )
    say(f"\n{headline}\n{line}")
    windows: dict[str, Points] = {"p50": [], "p99": []}
    needs_rate: Points = []
    t = 0.0
    while t < steady_end:
        window = [s for s in run if watch.origin + t <= s.at < watch.origin + t + PROGRESS_S]
        if window:
            values = [s.seconds * 1000 for s in window]
            windows["p50"].append((t + PROGRESS_S / 2, analysis.percentile(values, 50)))
            windows["p99"].append((t + PROGRESS_S / 2, analysis.percentile(values, 99)))
        needs_rate.append(
            (t + PROGRESS_S / 2, sum(1 for s in window if s.op == "needs") / PROGRESS_S)
        )
        t += PROGRESS_S
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    plot.draw(
        args.plot,
        title=f"make soak, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {headline}\n{line}",
        latency=windows,
        rate=needs_rate,
        backlog=series.backlog,
        jobs=series.jobs,
        lag=series.lag,
        rss=series.rss,
    )
    say(f"plot: {args.plot}")
    return 0 if ok else 1


def main_async(
    urls: Mapping[str, str], database_urls: Mapping[str, str], kafka: str, args: argparse.Namespace
) -> int:
    try:
        return asyncio.run(soak(urls, database_urls, kafka, args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
