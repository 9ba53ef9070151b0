"""The secret words: one list (heapdump._writer.DEFAULT_REDACT), matched by
the one rule (src/secrets/redact.c, _heapdump.looks_secret), and the
integrations' words for settings derived from it (SETTING_SECRET_WORDS:
the list less REQUEST_STATE_WORDS).  These tests pin that relation."""

from heapdump import _heapdump, _writer
from heapdump.integrations import _shared

DUMP = _writer.DEFAULT_REDACT
STATE = _writer.REQUEST_STATE_WORDS
SETTINGS = _shared.SETTING_SECRET_WORDS


def test_the_settings_words_are_the_dump_words_less_the_request_state():
    assert SETTINGS == tuple(w for w in DUMP if w not in STATE)
    assert set(STATE) <= set(DUMP), set(STATE) - set(DUMP)
    assert len(set(DUMP)) == len(DUMP)
    # what config_secrets() uses unless told otherwise
    assert _shared.config_secrets.__defaults__[-1] is SETTINGS


def test_every_word_is_one_the_rule_matches():
    for word in DUMP:
        assert _heapdump.looks_secret(word, DUMP), word
        assert _heapdump.looks_secret(word.upper(), DUMP), word


def test_secret_settings_stay_secret():
    for name in ("SECRET_KEY", "EMAIL_HOST_PASSWORD", "AWS_SECRET_ACCESS_KEY",
                 "API_TOKEN", "MYSQL_PWD", "STRIPE_API_KEY", "DB_PASSWD",
                 "SSH_PRIVATE_KEY", "GPG_PASSPHRASE", "SECRET_KEY_FALLBACKS"):
        assert _heapdump.looks_secret(name, SETTINGS), name
        assert _heapdump.looks_secret(name, DUMP), name


def test_session_and_auth_settings_are_configuration_not_secrets():
    for name in ("SESSION_ENGINE", "SESSION_COOKIE_AGE", "AUTH_USER_MODEL",
                 "CSRF_COOKIE_NAME", "CSRF_TRUSTED_ORIGINS",
                 "JWT_AUTH_HEADER_TYPES", "AUTHENTICATION_BACKENDS"):
        assert not _heapdump.looks_secret(name, SETTINGS), name
    # while a variable or a header so named is blanked in a dump
    for name in ("session", "sessionid", "cookie", "HTTP_COOKIE",
                 "authorization", "csrftoken", "auth"):
        assert _heapdump.looks_secret(name, DUMP), name
        assert not _heapdump.looks_secret(name, SETTINGS), name
