import pytest

from bridge.settings import Settings, SettingsError, load_settings, unknown_variables


def test_defaults_match_the_interface_contract() -> None:
    settings = load_settings({})

    assert settings == Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.topic_video_upload == "vod.video-upload.v1"
    assert settings.topic_material_upload == "vod.material-upload.v1"
    assert settings.topic_dlq == "vod.callbacks.dlq.v1"
    assert settings.auth_tokens == ()
    assert settings.allow_unauthenticated is False


def test_values_are_decoded_from_strings() -> None:
    settings = load_settings(
        {
            "BRIDGE_PORT": "9000",
            "BRIDGE_CREATE_TOPICS": "true",
            "BRIDGE_PRODUCE_TIMEOUT_SECONDS": "2.5",
            "BRIDGE_AUTH_TOKENS": " first-secret-token , second-secret-token,,",
            "BRIDGE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "OTHER_PORT": "1",
        }
    )

    assert settings.port == 9000
    assert settings.create_topics is True
    assert settings.produce_timeout_seconds == 2.5
    assert settings.auth_tokens == ("first-secret-token", "second-secret-token")
    assert settings.kafka_security_protocol == "SASL_SSL"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BRIDGE_PORT": "http"}, "BRIDGE_PORT='http' is invalid: Expected `int`, got `str`"),
        ({"BRIDGE_PORT": "70000"}, "BRIDGE_PORT='70000' is invalid: Expected `int` <= 65535"),
        (
            {"BRIDGE_CREATE_TOPICS": "maybe"},
            "BRIDGE_CREATE_TOPICS='maybe' is invalid: Expected `bool`, got `str`",
        ),
        (
            {"BRIDGE_KAFKA_COMPRESSION": "brotli"},
            "BRIDGE_KAFKA_COMPRESSION='brotli' is invalid: Invalid enum value 'brotli'",
        ),
        (
            {"BRIDGE_TOPIC_DLQ": "bad topic"},
            "BRIDGE_TOPIC_DLQ='bad topic' is invalid: Expected `str` matching regex "
            "'^[A-Za-z0-9._-]+$'",
        ),
        (
            {"BRIDGE_PRODUCE_TIMEOUT_SECONDS": "0"},
            "BRIDGE_PRODUCE_TIMEOUT_SECONDS='0' is invalid: Expected `float` > 0.0",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_variable_and_value(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)

    assert str(caught.value) == message


def test_secret_values_are_never_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"BRIDGE_AUTH_TOKENS": "a-long-enough-secret-token,short"})

    assert str(caught.value) == (
        "BRIDGE_AUTH_TOKENS=<hidden> is invalid: Expected `str` of length >= 16"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"BRIDGE_VENDOR_KEYS": "AKID:secret,no-colon-here"},
            "BRIDGE_VENDOR_KEYS=<hidden> is invalid: Expected `str` matching regex "
            "'^[^:\\\\s,]+:[^\\\\s,]+$'",
        ),
        (
            {"BRIDGE_PUBLIC_URL": "https://bridge.example.com/callbacks?x=1"},
            "BRIDGE_PUBLIC_URL='https://bridge.example.com/callbacks?x=1' is invalid: "
            "Expected `str` matching regex '^(https?://[^/?#\\\\s]+(/[^?#\\\\s]*)?)?$'",
        ),
        (
            {"BRIDGE_VENDOR_SIGNATURE": "on"},
            "BRIDGE_VENDOR_SIGNATURE='on' is invalid: Invalid enum value 'on'",
        ),
    ],
    ids=["key-pair", "url-with-query", "mode"],
)
def test_vendor_signature_settings_are_checked(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)

    assert str(caught.value) == message


def test_vendor_key_pairs_and_public_url_are_read() -> None:
    settings = load_settings(
        {
            "BRIDGE_VENDOR_SIGNATURE": "required",
            "BRIDGE_VENDOR_KEYS": "AKIDone:sk/with+symbols=, AKIDtwo:s:k",
            "BRIDGE_PUBLIC_URL": "https://bridge.example.com/vod",
        }
    )

    assert settings.vendor_signature == "required"
    assert settings.vendor_keys == ("AKIDone:sk/with+symbols=", "AKIDtwo:s:k")
    assert settings.public_url == "https://bridge.example.com/vod"


def test_unknown_variables_are_reported_with_a_suggestion() -> None:
    environ = {"BRIDGE_AUTH_TOKEN": "x", "BRIDGE_TEST_KAFKA_BOOTSTRAP": "y", "BRIDGE_PORT": "1"}

    assert unknown_variables(environ) == [
        "BRIDGE_AUTH_TOKEN is not a setting of the bridge and is ignored "
        "(did you mean BRIDGE_AUTH_TOKENS?)"
    ]
