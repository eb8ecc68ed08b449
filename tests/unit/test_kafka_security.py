"""The service's Kafka identity: its SCRAM user on a cluster that authenticates, none in
development, the same for FastStream's broker and the plain aiokafka clients."""

from __future__ import annotations

from services.runtime.kafka import client_options, security
from services.runtime.settings import ServiceSettings


def test_no_user_connects_in_plain_text_unauthenticated() -> None:
    assert security(ServiceSettings()) is None
    assert client_options(ServiceSettings()) == {}


def test_a_user_signs_in_with_scram_sha_512() -> None:
    settings = ServiceSettings(kafka_sasl_username="mcvt-offers", kafka_sasl_password="s3cret")
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "mcvt-offers",
        "s3cret",
    )


def test_tls_encrypts_with_or_without_a_user() -> None:
    with_user = ServiceSettings(kafka_sasl_username="mcvt-offers", kafka_tls=True)
    assert client_options(with_user)["security_protocol"] == "SASL_SSL"
    alone = client_options(ServiceSettings(kafka_tls=True))
    assert alone["security_protocol"] == "SSL"
    assert alone["ssl_context"] is not None


def test_the_password_stays_out_of_the_settings_repr() -> None:
    settings = ServiceSettings(kafka_sasl_username="mcvt-offers", kafka_sasl_password="s3cret")
    assert "s3cret" not in repr(settings)
