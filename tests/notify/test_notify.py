"""Notifications, proven against real servers on 127.0.0.1 and real workers.

An SMTP server (aiosmtpd, with AUTH over plain SMTP so that a password is
really used) and an HTTP server that records JSON webhooks run in this
process; an unreachable target is a port nobody listens on. Jobs run real
ffmpeg (``remux-mp4``: stream copy, quick) in ``mediaforge worker --burst``
subprocesses or through ``run_foreground``; the job database and every
output of every command are searched for the secrets of the target URLs.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mediaforge.config.discovery import load_config
from mediaforge.events import Event
from mediaforge.jobs.model import Job, JobStatus, NewJob, Output
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import WorkerRow
from mediaforge.notify.delivery import Notifier
from mediaforge.notify.messages import compose
from mediaforge.notify.store import NotificationStatus, NotificationStore
from mediaforge.notify.targets import load_targets, target_label
from mediaforge.queue.pipeline import run_foreground
from tests.mfcli import Mediaforge, free_port, wait_until
from tests.servers import Webhook

SMTP_USER, SMTP_PASSWORD = "ana", "smtp-Pa55word-not-for-logs"
TOKEN = "tok-3f9a8b7c6d5e4f3a2b1c"


# -- servers -------------------------------------------------------------------


class Mailbox:
    """A real SMTP server on 127.0.0.1 that accepts one login and keeps every message."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []
        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,  # plain SMTP on localhost; apprise's mailto:// mode
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == SMTP_USER
            and data.password.decode() == SMTP_PASSWORD
        )
        if ok:
            self.logins.append(SMTP_USER)
        return AuthResult(success=ok)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def url(self) -> str:
        return (
            f"mailto://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{self.port}"
            "?from=mediaforge@example.com&to=ana@example.com"
        )


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()


# -- a mediaforge installation in tmp_path ----------------------------------------------


def configure(mf: Mediaforge, **notify: Any) -> None:
    """Write these notify settings, with one attempt per job and debug logs."""
    mf.configure(worker={"max_attempts": 1}, notify=notify, log={"level": "debug"})


@pytest.fixture
def mf(mf: Mediaforge) -> Mediaforge:
    """The shared test installation, set up as ``configure`` sets it up."""
    configure(mf)
    return mf


def ended_job(store: JobStore, name: str, status: JobStatus, **facts: Any) -> Job:
    """A job that went through the real transitions to ``status`` (no ffmpeg needed)."""
    [job_id] = store.create([NewJob(input_path=f"/media/{name}", preset="h264-720p", **facts)])
    store.claim(job_id, "w")
    store.set_input_facts(job_id, "w", input_duration=60.0)
    outputs = [Output(f"/media/out/{name}", "video", 400)] if status is JobStatus.SUCCEEDED else []
    error = "input is not media" if status is JobStatus.FAILED else None
    store.finish(job_id, "w", status, outputs=outputs, error=error)
    return store.get(job_id)


# -- end to end ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_succeeded_and_a_failed_job_are_emailed_with_subject_and_body(
    mf: Mediaforge, mailbox: Mailbox, make_media: Callable[..., Path]
) -> None:
    configure(mf, targets=[{"url": mailbox.url(), "name": "email"}], window=0)
    good = make_media("good.mp4")
    bad = shutil.copy(good, good.with_name("bad.mp4"))

    [good_id] = mf.submit([good], "remux-mp4")
    mf.burst("--verbose")
    [bad_id] = mf.submit([Path(bad)], "remux-mp4")
    Path(bad).write_bytes(b"this is not media any more")  # after the submit checked it
    mf.burst("--verbose")

    assert len(mailbox.messages) == 2
    succeeded, failed = mailbox.messages
    assert succeeded["Subject"] == "mediaforge: good.mp4 succeeded"
    assert succeeded["To"] == "ana@example.com"
    body = text_of(succeeded)
    job = mf.store.get(good_id)
    assert "good.mp4 succeeded (preset remux-mp4)" in body
    assert "x realtime" in body
    assert f"Output: {job.outputs[0].path}" in body
    assert "% of the input" in body
    assert "Error:" not in body
    assert failed["Subject"] == "mediaforge: bad.mp4 failed"
    failure = mf.store.get(bad_id)
    assert failure.error
    assert f"Error: {failure.error}" in text_of(failed)
    assert "Output:" not in text_of(failed)
    # Markdown became HTML for the mail client that shows it.
    html = failed.get_body(preferencelist=("html",))
    assert html is not None and "<strong>bad.mp4</strong>" in str(html.get_content())
    assert mailbox.logins == [SMTP_USER, SMTP_USER]
    [outcome] = mf.status(good_id)["notifications"]
    assert outcome["status"] == "sent" and outcome["target"] == "email"
    assert outcome["event"] == "job_succeeded"


def test_a_json_webhook_receives_the_job_fields(
    mf: Mediaforge, webhook: Webhook, make_media: Callable[..., Path]
) -> None:
    configure(mf, targets=[{"url": webhook.url()}], window=60)
    clip = make_media("holiday clip.mp4")

    # `mediaforge run` sends at once, whatever the window: no worker may be running.
    job = run_foreground(mf.load_config(), mf.store, clip, "remux-mp4")

    assert job.status is JobStatus.SUCCEEDED
    [post] = webhook.posts
    assert webhook.paths == ["/hook"]
    assert post["title"] == "mediaforge: holiday clip.mp4 succeeded"
    assert post["type"] == "success"
    message = post["message"]
    assert "**holiday clip.mp4** succeeded (preset remux-mp4)" in message
    size = job.input_size
    assert size is not None
    assert f"Size: {size / 1024:.1f} KiB → " in message
    assert "x realtime" in message
    assert f"Output: {job.outputs[0].path}" in message
    [note] = NotificationStore(mf.store).for_job(job)
    assert (note.status, note.target) == (NotificationStatus.SENT, target_label(webhook.url()))


@pytest.mark.slow
def test_a_batch_of_twenty_jobs_yields_one_digest_per_target(
    mf: Mediaforge, webhook: Webhook, mailbox: Mailbox, make_media: Callable[..., Path]
) -> None:
    configure(
        mf,
        targets=[
            {"url": webhook.url(), "name": "hook"},
            {"url": mailbox.url(), "name": "email", "events": ["batch_finished"]},
        ],
        window=0.3,
        digest_max_items=5,
    )
    first = make_media("clip-01.mp4")
    clips = [first] + [
        Path(shutil.copy(first, first.with_name(f"clip-{n:02}.mp4"))) for n in range(2, 21)
    ]
    ids = mf.submit(clips, "remux-mp4")

    mf.burst("--verbose", "--workers", "2")

    assert all(mf.store.get(i).status is JobStatus.SUCCEEDED for i in ids)
    assert len(webhook.posts) == 1
    assert len(mailbox.messages) == 1
    [post], [mail] = webhook.posts, mailbox.messages
    assert post["title"] == mail["Subject"] == "mediaforge: 20 jobs finished (20 succeeded)"
    assert post["message"].count("✅") == 5
    assert "…and 15 more" in post["message"]
    assert "**clip-01.mp4**: succeeded." in post["message"]
    assert "clip-01.mp4: succeeded." in text_of(mail)
    # Each job shows the digest that reported it.
    outcomes = mf.status(ids[7])["notifications"]
    assert {(o["target"], o["event"], o["status"]) for o in outcomes} == {
        ("hook", "batch_finished", "sent"),
        ("email", "batch_finished", "sent"),
    }


@pytest.mark.slow
def test_an_unreachable_target_is_retried_and_recorded_while_the_job_succeeds(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    closed = free_port()  # nothing listens there
    url = f"json://bob:{SMTP_PASSWORD}@127.0.0.1:{closed}/hook?token={TOKEN}"
    configure(mf, targets=[{"url": url}], window=0, retries=2, retry_backoff=0.2, timeout=2)
    [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")

    worker = mf.burst("--verbose")

    shown = mf.status(job_id)
    assert shown["status"] == "succeeded"
    [outcome] = shown["notifications"]
    assert outcome["target"] == f"json://127.0.0.1:{closed}"
    assert outcome["status"] == "failed"
    assert outcome["attempts"] == 3  # the first one and 2 retries
    assert "connection error" in outcome["error"].lower()
    text = mf("status", job_id)
    assert "failed" in text.out and "after 3 attempt(s)" in text.out
    worker_log = worker.out + worker.err
    assert worker_log.count("next attempt in") == 2
    assert "giving up" in worker_log
    for secret in (SMTP_PASSWORD, TOKEN):
        assert secret not in mf.data_text()
        assert secret not in "\n".join(mf.transcript)


@pytest.mark.slow
def test_a_worker_that_died_holding_a_job_is_reported_as_stalled(
    mf: Mediaforge, webhook: Webhook, make_media: Callable[..., Path]
) -> None:
    configure(mf, targets=[{"url": webhook.url(), "events": ["worker_stalled"]}], window=0)
    [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    # A worker registered in this pid namespace whose process is gone.
    worker_id = mf.store.workers.register(f"{socket.gethostname()}:{dead.pid}:deadbeef")
    WorkerRow.update(pid=dead.pid).where(WorkerRow.id == worker_id).execute()
    mf.store.claim(job_id, f"{worker_id}/Worker-1")

    mf.burst("--verbose")  # its start-up recovery finds the job of the dead worker

    # With max_attempts 1, the attempt the dead worker used was the last one.
    assert mf.store.get(job_id).status is JobStatus.FAILED
    [post] = webhook.posts  # the target wants worker_stalled only, not job_failed
    assert post["type"] == "warning"
    assert post["title"].startswith("mediaforge: worker ")
    assert post["title"].endswith(
        f"found job(s) {job_id} held by a worker that stopped heartbeating: "
        "0 queued again, 1 failed"
    )


@pytest.mark.slow
def test_a_worker_stopped_by_a_signal_says_so(mf: Mediaforge, webhook: Webhook) -> None:
    configure(mf, targets=[{"url": webhook.url(), "events": ["worker_stopped"]}])
    worker = mf.start("worker")
    # The log line, whatever the logger's name: "worker HOST:PID started: ..."
    started = re.compile(r" worker \S+ started: ")
    mf.wait_until(lambda: bool(started.search(mf.logs())), 60, "the worker to start")

    worker.send_signal(signal.SIGTERM)

    assert mf.finish(worker, timeout=30).code == 0

    [post] = webhook.posts
    assert post["title"].startswith("mediaforge: worker ")
    assert post["title"].endswith(" stopped on SIGTERM")


def test_secrets_in_target_urls_appear_in_no_output(
    mf: Mediaforge, webhook: Webhook, make_media: Callable[..., Path]
) -> None:
    closed = free_port()
    secret_url = f"json://bob:{SMTP_PASSWORD}@127.0.0.1:{closed}/hook?token={TOKEN}"
    # Apprise's own error for this one quotes the URL with the password half-masked.
    unknown_url = f"nosuchservice://bob:{SMTP_PASSWORD}@example.com/x"
    configure(
        mf,
        targets=[
            {"url": secret_url, "tags": ["ops"]},
            {"url": unknown_url},
            {"url": webhook.url(), "tags": ["ops"]},
        ],
        retries=0,
        timeout=2,
    )
    job = run_foreground(mf.load_config(), mf.store, make_media("clip.mp4"), "remux-mp4")
    assert job.status is JobStatus.SUCCEEDED

    outputs = [
        mf("config", "show"),
        mf("config", "show", "--json"),
        mf("status", job.id),
        mf("status", job.id, "--json"),
        mf("notify", "test"),
        mf("notify", "test", "--json"),
        mf("notify", "test", "--tag", "nosuchtag"),
    ]
    # A bad setting beside the secret: the error quotes the section, not the URL.
    mf.config.write_text(
        yaml.safe_dump({"notify": {"targets": [{"url": secret_url, "events": ["nope"]}]}})
    )
    outputs.append(mf("config", "check"))

    assert outputs[-1].code == 3 and "'nope' is not allowed" in outputs[-1].err
    assert outputs[1].json()["notify"]["targets"][0]["url"] == "***"
    assert [n.status for n in NotificationStore(mf.store).for_job(job)] == [
        NotificationStatus.FAILED,
        NotificationStatus.FAILED,
        NotificationStatus.SENT,
    ]
    shown = "\n".join(o.out + o.err for o in outputs)
    assert "FAIL nosuchservice://example.com: Unparseable URL nosuchservice://bob:***@" in shown
    for secret in (SMTP_PASSWORD, TOKEN):
        assert secret not in shown
        assert secret not in mf.data_text()
    assert f"{SMTP_PASSWORD[0]}...{SMTP_PASSWORD[-1]}" not in shown + mf.data_text()


def test_notify_test_reports_each_target_and_fails_if_one_does(
    mf: Mediaforge, webhook: Webhook, mailbox: Mailbox
) -> None:
    closed = free_port()
    configure(
        mf,
        targets=[
            {"url": webhook.url(), "name": "hook", "tags": ["chat"]},
            {"url": mailbox.url(), "name": "email", "tags": ["mail"]},
            {"url": f"json://127.0.0.1:{closed}/x", "name": "dead", "tags": ["chat"]},
        ],
        timeout=2,
    )

    everything = mf("notify", "test")
    chat = mf("notify", "test", "--tag", "chat", "--json")
    mail = mf("notify", "test", "--tag", "mail")
    nothing = mf("notify", "test", "--tag", "pager")

    assert everything.code == 1
    lines = everything.out.splitlines()
    assert lines[:2] == ["ok   hook", "ok   email"]
    assert lines[2].startswith("FAIL dead: A Connection error occurred")
    assert chat.code == 1
    assert [(r["target"], r["ok"]) for r in chat.json()] == [
        ("hook", True),
        ("dead", False),
    ]
    assert (mail.code, mail.out) == (0, "ok   email\n")
    assert nothing.code == 1
    assert "no notification target has the tag 'pager'" in nothing.err
    assert "chat, mail" in nothing.err
    assert len(webhook.posts) == 2 and len(mailbox.messages) == 2
    assert mailbox.messages[0]["Subject"] == "mediaforge: test notification"


# -- digests and claims, on a real job database ------------------------------------------------


def test_unrelated_jobs_ending_within_the_window_make_one_message(
    mf: Mediaforge, webhook: Webhook
) -> None:
    configure(mf, targets=[{"url": webhook.url()}], window=1.5)
    notifier = Notifier(mf.load_config(), mf.store)

    for name, status in [("a.mp4", JobStatus.SUCCEEDED), ("b.mp4", JobStatus.FAILED)]:
        assert notifier.job_ended(ended_job(mf.store, name, status)) == 1.5
    notifier.deliver_due("w1")
    assert webhook.posts == []  # nothing is due before the window ends
    wait_until(lambda: notifier.deliver_due("w1") is None and bool(webhook.posts), 10, "a post")

    [post] = webhook.posts
    assert post["title"] == "mediaforge: 2 jobs finished (1 succeeded, 1 failed)"
    assert post["type"] == "failure"
    assert "- ✅ **a.mp4**: succeeded." in post["message"]
    assert "- ❌ **b.mp4**: failed. input is not media" in post["message"]


def test_reporting_the_same_end_twice_records_one_message(mf: Mediaforge) -> None:
    configure(mf, targets=[{"url": "json://127.0.0.1:9/x"}])
    notifier = Notifier(mf.load_config(), mf.store)
    job = ended_job(mf.store, "a.mp4", JobStatus.SUCCEEDED)

    assert notifier.job_ended(job) is not None
    assert notifier.job_ended(job) is None  # e.g. the CLI's cancel and the worker both saw it

    assert len(NotificationStore(mf.store).for_job(job)) == 1


def test_two_workers_never_claim_the_same_messages(mf: Mediaforge) -> None:
    configure(mf, targets=[{"url": "json://127.0.0.1:9/x", "name": "t"}], window=0)
    notifier = Notifier(mf.load_config(), mf.store)
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        notifier.job_ended(ended_job(mf.store, name, JobStatus.SUCCEEDED))

    claims: dict[str, int] = {}

    def claim(worker: str) -> None:
        claims[worker] = len(NotificationStore(mf.store).claim("t", worker))

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(claims.values()) == [0, 0, 0, 3]


def test_a_batch_reports_nothing_until_its_last_job_ends(mf: Mediaforge, webhook: Webhook) -> None:
    configure(mf, targets=[{"url": webhook.url()}], window=0)
    notifier = Notifier(mf.load_config(), mf.store)
    first = ended_job(mf.store, "a.mp4", JobStatus.SUCCEEDED, batch="b1")
    [queued] = mf.store.create([NewJob("/media/b.mp4", "h264-720p", batch="b1")])

    assert notifier.job_ended(first) is None
    mf.store.claim(queued, "w")
    mf.store.finish(queued, "w", JobStatus.FAILED, error="input is not media")
    assert notifier.job_ended(mf.store.get(queued)) == 0
    notifier.deliver_due("w")

    [post] = webhook.posts
    assert post["title"] == "mediaforge: 2 jobs finished (1 succeeded, 1 failed)"


def test_a_stalled_worker_is_reported_to_the_targets_that_want_it(
    mf: Mediaforge, webhook: Webhook
) -> None:
    configure(
        mf,
        targets=[
            {"url": webhook.url("/ops"), "events": ["worker_stalled"]},
            {"url": webhook.url("/jobs"), "name": "jobs only", "events": ["job_failed"]},
        ],
    )
    notifier = Notifier(mf.load_config(), mf.store)

    text = "worker host:1 found job(s) 4 held by a worker that stopped heartbeating"
    assert notifier.worker_event(Event.WORKER_STALLED, "host:1", text) == 0
    notifier.deliver_due("w")

    assert webhook.paths == ["/ops"]
    assert webhook.posts[0]["title"] == f"mediaforge: {text}"
    assert webhook.posts[0]["type"] == "warning"


def test_a_failed_delivery_is_retried_with_backoff_then_given_up(mf: Mediaforge) -> None:
    configure(
        mf,
        targets=[{"url": f"json://127.0.0.1:{free_port()}/x"}],
        window=0,
        retries=1,
        retry_backoff=1,
        timeout=2,
    )
    notifier = Notifier(mf.load_config(), mf.store)
    job = ended_job(mf.store, "a.mp4", JobStatus.SUCCEEDED)
    notifier.job_ended(job)

    def attempts() -> tuple[NotificationStatus, int]:
        [note] = NotificationStore(mf.store).for_job(job)
        return note.status, note.attempts

    assert notifier.deliver_due("w") == 1.0  # seconds until the retry
    assert notifier.deliver_due("w") is None  # not due yet: nothing tried
    assert attempts() == (NotificationStatus.PENDING, 1)
    wait_until(lambda: notifier.deliver_due("w") is None and attempts()[1] == 2, 10, "the retry")
    assert attempts() == (NotificationStatus.FAILED, 2)  # the last attempt failed: given up


# -- messages, targets and settings -------------------------------------------------------


def test_a_line_that_uses_an_empty_field_is_left_out(mf: Mediaforge) -> None:
    job = ended_job(mf.store, "a.mp4", JobStatus.FAILED)
    settings = mf.load_config().notify

    message = compose(settings, [job])

    assert message.title == "mediaforge: a.mp4 failed"
    assert message.body.splitlines() == [
        "**a.mp4** failed (preset h264-720p)",
        "Error: input is not media",
        f"Took: {message.body.split('Took: ')[1].splitlines()[0]}",
    ]


def test_templates_are_configurable(mf: Mediaforge) -> None:
    configure(mf, title="[{status}] {id}", body="{icon} {input} {speed}")
    job = ended_job(mf.store, "a.mp4", JobStatus.SUCCEEDED)

    message = compose(mf.load_config().notify, [job])

    assert message.title == f"[succeeded] {job.id}"
    assert message.body.startswith("✅ /media/a.mp4 ") and message.body.endswith("x realtime")


def test_an_apprise_config_file_adds_targets_that_choose_events_by_tag(tmp_path: Path) -> None:
    apprise_file = tmp_path / "apprise.yml"
    apprise_file.write_text(
        yaml.safe_dump(
            {
                "urls": [
                    {f"json://ops:{SMTP_PASSWORD}@127.0.0.1:9/a": [{"tag": "job_failed, pager"}]},
                    {"json://127.0.0.1:9/b": [{"tag": "chat"}]},
                ]
            }
        ),
        encoding="utf-8",
    )
    path = tmp_path / "config.yaml"
    path.write_text(f"notify:\n  apprise_config: {apprise_file.name}\n", encoding="utf-8")

    targets = load_targets(load_config(path, {"HOME": str(tmp_path)}).notify)

    assert [(t.label, t.tags, t.events) for t in targets] == [
        ("json://127.0.0.1:9", frozenset({"job_failed", "pager"}), {Event.JOB_FAILED}),
        (
            "json://127.0.0.1:9 #2",
            frozenset({"chat"}),
            {Event.JOB_SUCCEEDED, Event.JOB_FAILED, Event.BATCH_FINISHED, Event.WORKER_STALLED},
        ),
    ]
    assert SMTP_PASSWORD in targets[0].secrets


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("mailtos://ana:pw@gmail.com?to=x@example.com", "mailtos://gmail.com"),
        ("json://127.0.0.1:8080/path/secret?token=abc", "json://127.0.0.1:8080"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "slack://T1JJ***"),
        ("TGRAM://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12315544/", "tgram://1234***"),
    ],
)
def test_a_target_is_known_by_a_label_without_secrets(url: str, label: str) -> None:
    assert target_label(url) == label


def test_submitting_does_not_import_apprise(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    configure(mf, targets=[{"url": "json://127.0.0.1:9/x"}])
    clip = make_media("clip.mp4")
    code = (
        "import sys\n"
        "from mediaforge.cli.main import app\n"
        f"sys.argv = ['mediaforge', 'submit', {str(clip)!r}, '--preset', 'remux-mp4']\n"
        "try:\n    app()\nexcept SystemExit as end:\n    print('exit', end.code)\n"
        "print('apprise' in sys.modules)\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", code], env=mf.env, cwd=mf.home, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip

    # The submit itself worked: its job id, exit 0, and the job is queued.
    *_, job_line, exit_line, imported = done.stdout.splitlines()
    assert (exit_line, imported) == ("exit 0", "False"), done.stdout + done.stderr
    [job] = mf.jobs()
    assert (job_line, job["status"]) == (str(job["id"]), "queued")
