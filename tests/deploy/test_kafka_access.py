"""Strimzi's topics and users against what each service's code does with Kafka: every topic it
touches is declared (replicated, with room for consumer replicas), and its KafkaUser may do
what the service needs and no more."""

from __future__ import annotations

from contracts.topics import DEAD_LETTER_PREFIX, Topic
from tests.deploy.manifests import MIN_PARTITIONS, allows, of_kind, overlay, topologies

# Matching's internal topic, keyed by territory: whose partitions a replica owns says which
# territories it matches.
TERRITORIES = "mcvt.matching.read-model.territories"


def test_every_topic_the_code_touches_is_declared_replicated_and_partitioned() -> None:
    topics = of_kind(overlay(), "KafkaTopic")
    needed = {str(t) for t in Topic} | {TERRITORIES}
    for topology in topologies().values():
        needed |= topology.consumes | topology.publishes | topology.dead_letters
    assert sorted(needed - set(topics)) == []
    for name, topic in topics.items():
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "mcvt", name
        assert spec["partitions"] >= MIN_PARTITIONS, name
        assert spec["replicas"] == 3, name
        assert spec["config"]["min.insync.replicas"] == 2, name


def test_the_record_of_the_marketplace_is_kept_for_rebuilds() -> None:
    """A fresh read model replays its topics from offset 0: they must not expire. The private
    topic of e-mail addresses is compacted instead: a removed address leaves the broker too,
    and the latest of each address is all a rebuild needs."""
    topics = of_kind(overlay(), "KafkaTopic")
    dead_letters = [n for n in topics if n.startswith(DEAD_LETTER_PREFIX)]
    for name in [*(str(t) for t in Topic if t is not Topic.CONTACTS), *dead_letters]:
        assert topics[name]["spec"]["config"].get("retention.ms") == -1, name
    contacts = topics[Topic.CONTACTS]["spec"]["config"]
    assert contacts["cleanup.policy"] == "compact" and "retention.ms" not in contacts


def test_each_service_may_read_its_groups_and_topics_and_write_its_own() -> None:
    users = of_kind(overlay(), "KafkaUser")
    for name, topology in topologies().items():
        user = users[f"mcvt-{name}"]
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        for group in topology.groups:
            assert allows(user, "group", group, "Read"), f"{name} cannot join {group}"
        for topic in topology.consumes:
            assert allows(user, "topic", topic, "Read"), f"{name} cannot read {topic}"
        for topic in topology.publishes:
            assert allows(user, "topic", topic, "Write"), f"{name} cannot publish to {topic}"
        for topic in topology.dead_letters:
            assert allows(user, "topic", topic, "Write"), f"{name} cannot dead-letter to {topic}"
            assert allows(user, "topic", topic, "Create"), f"{name} cannot create {topic}"


def test_no_service_may_write_another_ones_topics_or_join_its_groups() -> None:
    users = of_kind(overlay(), "KafkaUser")
    services = topologies()
    for name in services:
        user = users[f"mcvt-{name}"]
        for other, topology in services.items():
            if other == name:
                continue
            for topic in topology.publishes | topology.dead_letters:
                assert not allows(user, "topic", topic, "Write"), f"{name} may write {topic}"
            for group in topology.groups:
                assert not allows(user, "group", group, "Read"), f"{name} may join {group}"
        assert not allows(user, "cluster", "kafka-cluster", "Alter"), name


def test_only_matching_works_on_the_territories_topic() -> None:
    users = of_kind(overlay(), "KafkaUser")
    for user_name, user in users.items():
        mine = user_name == "mcvt-matching"
        assert allows(user, "topic", TERRITORIES, "Write") is mine, user_name
        assert allows(user, "topic", TERRITORIES, "Read") is mine, user_name


def test_the_cluster_authenticates_and_authorises_every_client() -> None:
    kafka = of_kind(overlay(), "Kafka")["mcvt"]["spec"]
    assert kafka["kafka"]["authorization"]["type"] == "simple"
    for listener in kafka["kafka"]["listeners"]:
        assert listener["authentication"]["type"] == "scram-sha-512", listener["name"]
    assert "userOperator" in kafka["entityOperator"]
    assert "topicOperator" in kafka["entityOperator"]
    pools = of_kind(overlay(), "KafkaNodePool")
    assert sum(p["spec"]["replicas"] for p in pools.values() if "broker" in p["spec"]["roles"]) >= 3
