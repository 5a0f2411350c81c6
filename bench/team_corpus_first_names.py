"""From a new corpus' submission to its first names, end to end on the real stack (target: 10 s for
1,000 names): an embedded redis-server, the Slack stand-in, `tnaas web` (the real Bolt app over HTTP)
and one `tnaas worker`, as tests/test_slack_corpora.py starts them. Lists of one-word PyPI names.

- Slack, a file: `/techname corpus add` opens the form through the stand-in; a signed
  ``view_submission`` carries a .txt file of 1,000 names in the form's file input (the stand-in holds
  the file, answers ``files.info`` and serves its bytes to the bot's token, as Slack does); then a
  signed `/techname <corpus> 5` every ``POLL`` seconds, each in a channel of its own, until one is
  answered with names in the thread of its post (the others answer "still training", or that there is
  no such corpus while the file is fetched).
- Slack, pasted: the same with the names pasted one per line, as many as the form's text box holds
  (Slack bounds it to 3,000 characters: about 340 of these names).
- API: ``POST /api/v1/corpora`` with 1,000 names (which answers once the corpus is trained or after
  ``TNAAS_API_WAIT``), then ``POST /api/v1/generate`` every ``POLL`` seconds until it answers with names.

Each path runs ``RUNS`` times (a new corpus name each time), printed with its median; the seconds are
wall time from the submission's first byte to the first names, and the stack's CPU seconds over the
runs are printed beside them (a shared machine's wall time also counts other people's work).

Run: ``.venv/bin/python -m bench.team_corpus_first_names`` after ``tnaas train`` (about a minute;
``TNAAS_ARTIFACTS_DIR`` as for every benchmark).
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path

from redis import Redis

from bench.common import artifacts_env, children, cpu_seconds
from bot.slack.listeners.corpus import TEXT_BOX
from corpora import load_corpus
from testkit.processes import http, start_web, start_worker, stop_process, tnaas_env, voter_cookie, wait_until
from testkit.slack_standin import TOKEN, SlackStandIn, signed_post, slash_form
from tnaas.redis_server import EmbeddedRedis

SECRET = "bench-signing-secret"
FORM = "application/x-www-form-urlencoded"
RUNS = 3
API_NAMES = 1_000
POLL = 0.2  # seconds between two asks while the corpus trains
TIMEOUT = 120.0
TARGET = 10.0


def slack_names(words: list[str], seed: int) -> list[str]:
    """As many distinct names as the form's text box holds, one per line."""
    names, used = [], -1
    for word in random.Random(seed).sample(words, 2_000):
        if used + 1 + len(word) > TEXT_BOX:
            break
        names.append(word)
        used += 1 + len(word)
    return names


class SlackPath:
    """Signed requests to the real Bolt app, the stand-in recording what the bot calls."""

    def __init__(self, base: str, slack: SlackStandIn):
        self.url, self.slack, self.asks = f"{base}/slack/events", slack, 0
        self.user = "U1"  # one person per run: a person may send 5 corpora an hour

    def slash(self, text: str, channel: str, trigger: str = "t") -> tuple[int, str, str]:
        response_url = self.slack.response_url(channel, self.user)
        body = slash_form(text, user=self.user, channel=channel, team="T1", response_url=response_url, trigger=trigger)
        status, ack = signed_post(self.url, body, FORM, SECRET)
        return status, ack, response_url

    def open_form(self) -> dict:
        before = len(self.slack.modals)
        status, ack, _ = self.slash("corpus add", "CFORM", trigger=self.slack.trigger())
        assert status == 200 and ack == "", (status, ack)
        return wait_until(lambda: len(self.slack.modals) > before and self.slack.modals[-1], 20, what="the corpus form")

    def submit(self, view: dict, name: str, names: list[str] | None = None, file: dict | None = None) -> None:
        """The form sent with ``names`` pasted, or with ``file`` (the stand-in's file object) uploaded."""
        values = {
            "name": {"type": "plain_text_input", "value": name},
            "names": {"type": "plain_text_input", "value": "\n".join(names) if names else None},
            "file": {"type": "file_input", "files": [file] if file else []},
            "description": {"type": "plain_text_input", "value": None},
        }
        payload = {
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": self.user, "team_id": "T1"},
            "api_app_id": "A1",
            "trigger_id": "t",
            "view": view | {"state": {"values": {k: {k: v} for k, v in values.items()}}},
        }
        status, said = signed_post(
            self.url, urllib.parse.urlencode({"payload": json.dumps(payload)}).encode(), FORM, SECRET
        )
        assert status == 200 and said == "", (status, said)

    def first_names(self, corpus: str, deadline: float) -> list[str]:
        """Ask for the corpus until it answers with names (each ask in a channel of its own)."""
        while time.perf_counter() < deadline:
            self.asks += 1
            channel = f"CASK{self.asks}"
            status, ack, response_url = self.slash(f"{corpus} 5", channel)
            assert status == 200, (status, ack)
            if ack:  # answered at once: a file's corpus is unknown until its bytes are fetched and checked
                time.sleep(POLL)
                continue
            wait_until(
                lambda: self.posted(channel) or self.slack.responses(response_url), 20, what="an answer to the ask"
            )
            if self.posted(channel):  # the request's post; the names follow in its thread
                candidates = wait_until(lambda: self.names_in(channel), 20, what="the names in the thread")
                return [line for line in candidates[0]["text"].splitlines() if line]
            time.sleep(POLL)
        raise TimeoutError(f"{corpus} gave no names within {TIMEOUT} s")

    def posted(self, channel: str) -> list[dict]:
        return [p for p in self.slack.called("chat.postMessage") if p.get("channel") == channel and "_ts" in p]

    def names_in(self, channel: str) -> list[dict]:
        return [p for p in self.posted(channel) if p.get("thread_ts")]


def api_first_names(base: str, who: str, corpus: str, names: list[str], deadline: float) -> list[str]:
    status, _, added = http("POST", f"{base}/api/v1/corpora", {"name": corpus, "names": names}, {"Cookie": who})
    assert status in (200, 202), (status, added)
    while time.perf_counter() < deadline:
        status, _, answer = http("POST", f"{base}/api/v1/generate", {"corpus": corpus, "n": 5}, {"Cookie": who})
        if status == 200 and answer.get("names"):
            return [c["name"] for c in answer["names"]["candidates"]]
        time.sleep(POLL)
    raise TimeoutError(f"{corpus} gave no names within {TIMEOUT} s")


def main() -> None:
    words = load_corpus("pypi-words")
    before = children()
    with tempfile.TemporaryDirectory(prefix="tnaas-bench-") as tmp, SlackStandIn() as slack:
        server = EmbeddedRedis(Path(tmp) / "redis")
        server.start()
        env = tnaas_env(
            Path(artifacts_env()["TNAAS_ARTIFACTS_DIR"]),
            REDIS_URL=server.url,
            TNAAS_DATA_DIR=Path(tmp) / "data",  # the workers' copies of team corpora: gone with the run
            TNAAS_SLACK_API_URL=slack.url,
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            TNAAS_USER_RATE=1000,
        )
        processes: list = []
        try:
            processes.append(start_worker(env, Redis.from_url(server.url)))
            web, base = start_web(env)
            processes.append(web)
            stack = children() - before
            cpu_before = cpu_seconds(stack)
            path, who = SlackPath(base, slack), voter_cookie(base)
            rows: dict[str, list[float]] = {"file": [], "pasted": [], "api": []}
            sizes = {}
            for run in range(RUNS):
                path.user = f"U{run + 1}"
                names = random.Random(run).sample(words, API_NAMES)
                sizes["file"] = len(names)
                file = slack.add_file(("\n".join(names) + "\n").encode(), name="names.txt")
                view = path.open_form()
                start = time.perf_counter()
                path.submit(view, f"bench-file-{run}", file=file)
                shown = path.first_names(f"bench-file-{run}", start + TIMEOUT)
                rows["file"].append(time.perf_counter() - start)
                print(f"file run {run}: {len(names)} names, first names after {rows['file'][-1]:.2f} s: {shown[:3]}")
                names = slack_names(words, run)
                sizes["pasted"] = len(names)
                view = path.open_form()
                start = time.perf_counter()
                path.submit(view, f"bench-slack-{run}", names)
                shown = path.first_names(f"bench-slack-{run}", start + TIMEOUT)
                rows["pasted"].append(time.perf_counter() - start)
                print(
                    f"pasted run {run}: {len(names)} names, first names after {rows['pasted'][-1]:.2f} s: {shown[:3]}"
                )
                names = random.Random(run).sample(words, API_NAMES)
                sizes["api"] = len(names)
                start = time.perf_counter()
                shown = api_first_names(base, who, f"bench-api-{run}", names, start + TIMEOUT)
                rows["api"].append(time.perf_counter() - start)
                print(f"api run {run}: {len(names)} names, first names after {rows['api'][-1]:.2f} s: {shown[:3]}")
            cpu_after = cpu_seconds(stack)
        finally:
            for process in processes:
                stop_process(process)
            server.stop()
    print("\npath   names  median s  runs s              target s")
    for key, seconds in rows.items():
        runs = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"{key:<6} {sizes[key]:5}  {statistics.median(seconds):8.2f}  {runs:<18}  {TARGET:8.0f}")
    cpu = {role: cpu_after.get(role, 0.0) - cpu_before.get(role, 0.0) for role in cpu_after}
    print("stack CPU s over the runs: " + ", ".join(f"{role} {s:.1f}" for role, s in sorted(cpu.items())))


if __name__ == "__main__":
    main()
