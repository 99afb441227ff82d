"""Redaction: secrets in URLs and text are hidden before they reach logs,
job records or a terminal."""

from __future__ import annotations

import pytest

from mediaforge.redact import redact_text, redact_url, url_secrets


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # passwords in the authority
        (
            "postgresql://user:hunter2@db.example.com:5432/jobs",
            "postgresql://user:***@db.example.com:5432/jobs",
        ),
        (
            "postgres://u:p%40ss%2Fw@db/jobs?sslmode=require",
            "postgres://u:***@db/jobs?sslmode=require",
        ),
        ("redis://:s3cret@localhost:6379/0", "redis://:***@localhost:6379/0"),
        (
            "rediss://default:s3cret@cache.example.com:6380",
            "rediss://default:***@cache.example.com:6380",
        ),
        ("redis://user:pa/ss#x@host/0", "redis://user:***@host/0"),  # unencoded '/' and '#'
        (
            "mailtos://me:app-pass@gmail.com/?to=ops@example.com",
            "mailtos://me:***@gmail.com/?to=ops@example.com",
        ),
        (
            "mailto://me@example.com?pass=hunter2&smtp=mail.example.com",
            "mailto://me@example.com?pass=***&smtp=mail.example.com",
        ),
        # secret query parameters
        (
            "json://hooks.example.com/notify?token=abc123&format=json",
            "json://hooks.example.com/notify?token=***&format=json",
        ),
        (
            "jsons://example.com/hook?-X-Api-Key=k3y&to=me",
            "jsons://example.com/hook?-X-Api-Key=***&to=me",
        ),
        (
            "https://example.com/hook?apikey=a&secret=b&password=c&signature=d&sig=e",
            "https://example.com/hook?apikey=***&secret=***&password=***&signature=***&sig=***",
        ),
        (
            "s3://bucket/k.mp4?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc",
            "s3://bucket/k.mp4?X-Amz-Credential=***&X-Amz-Signature=***",
        ),
        (
            "https://example.com/cb#access_token=abc&state=1",
            "https://example.com/cb#access_token=***&state=1",
        ),
        # token schemes and webhook hosts
        (
            "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
            "slack://T1JJ***/A1BR***/TIia***/#general",
        ),
        (
            "slack://mybot@T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
            "slack://***@T1JJ***/A1BR***/TIia***",
        ),
        ("discord://123456789012345678/abcdefghijklmnopqrstuvwxyz", "discord://1234***/abcd***"),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12315544/", "tgram://1234***/***/"),
        (
            "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
            "https://hooks.slack.com/services/T1JJ***/A1BR***/TIia***",
        ),
        (
            "https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz",
            "https://discord.com/api/webhooks/1234***/abcd***",
        ),
        ("SLACK://T1JJ3T3L2/short", "SLACK://T1JJ***/***"),
    ],
)
def test_redact_url_hides_secrets(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ffmpeg",
        "/usr/bin/ffmpeg",
        "~/media/in",
        "sqlite:////var/lib/mediaforge/jobs.db",
        "sqlite:///relative.db",
        "postgresql://db.example.com/jobs",
        "postgresql://mediaforge@db.example.com:5432/jobs",
        "redis://localhost:6379/0",
        "unix:///run/redis.sock?db=0",
        "http://[::1]:8080/path?a=1&b=2#frag",
        "https://example.com/hook?format=json&to=a@b.com",
        "json://localhost/notify",
        "mailtos://me@example.com",
        "user:pass@host",  # not a URL: no scheme://
    ],
)
def test_redact_url_leaves_urls_without_secrets_unchanged(url: str) -> None:
    assert redact_url(url) == url
    assert url_secrets(url) == []


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("postgresql://u:p%40ss@db/x", ["p%40ss", "p@ss"]),
        ("json://h/x?token=t0k&format=json", ["t0k"]),
        ("discord://123456789/tokentoken", ["123456789", "tokentoken"]),
    ],
)
def test_url_secrets_lists_what_redact_url_hides(url: str, secrets: list[str]) -> None:
    assert url_secrets(url) == secrets


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("login failed for hunter2", ["hunter2"], "login failed for ***"),
        ("a hunter2 b hunter2", ["hunter2"], "a *** b ***"),
        ("nothing secret here", ["hunter2"], "nothing secret here"),
        ("text stays", [], "text stays"),
        ("empty secrets are ignored", ["", ""], "empty secrets are ignored"),
        ("url postgres://u:p%40ss@h", ["p@ss"], "url postgres://u:***@h"),
        ("query a=x+y", ["x y"], "query a=***"),
        ("abcdef and abc", ["abc", "abcdef"], "*** and ***"),
        ("ab*", ["*", "ab*"], "***"),
    ],
)
def test_redact_text_replaces_each_secret(text: str, secrets: list[str], expected: str) -> None:
    assert redact_text(text, secrets) == expected


def test_redact_text_with_url_secrets_scrubs_an_error_that_quotes_the_url() -> None:
    url = "mailtos://me:app-pass@smtp.example.com?token=t0k3n"
    error = "SMTP said: 535 bad credentials for me/app-pass (token t0k3n)"

    assert (
        redact_text(error, url_secrets(url))
        == "SMTP said: 535 bad credentials for me/*** (token ***)"
    )
