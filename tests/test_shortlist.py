"""The team shortlist in Redis: idempotent, bounded, and part of the privacy rules (retention, a
person's deletion, uninstall). A real redis-server; the Slack flows are in test_slack.py."""

import threading

import pytest
from redis import Redis

from bot.slack.commands import list_things
from core.limits import SHORTLIST_MAX
from store.installations import RedisInstallationStore
from store.shortlists import Shortlists
from tnaas.redis_server import EmbeddedRedis


@pytest.fixture
def redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield Redis.from_url(server.url)
    server.stop()


def test_adding_twice_or_at_once_keeps_one_entry_and_the_first_adder(redis):
    lists = Shortlists(redis)
    assert lists.add("T1", "kafkify", "pypi", "U1", now=10) == "added"
    assert lists.add("T1", "kafkify", "pypi", "U2", now=20) == "already"
    results = []
    threads = [threading.Thread(target=lambda u=u: results.append(lists.add("T1", "zappy", "npm", u))) for u in "ABCD"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["added", "already", "already", "already"]
    entries = lists.entries("T1")
    assert [(e.name, e.corpus) for e in entries] == [("kafkify", "pypi"), ("zappy", "npm")] and entries[0].user == "U1"
    assert lists.entries("T2") == []  # another team's list is its own


def test_the_shortlist_is_bounded_and_removing_what_is_gone_does_nothing(redis):
    lists = Shortlists(redis)
    for i in range(SHORTLIST_MAX):
        assert lists.add("T1", f"n{i}", "cats", "U1") == "added"
    assert lists.add("T1", "onemore", "cats", "U1") == "full" and len(lists.entries("T1")) == SHORTLIST_MAX
    assert lists.remove("T1", "n0", "cats") and not lists.remove("T1", "n0", "cats")
    assert lists.add("T1", "onemore", "cats", "U1") == "added"


def test_retention_a_persons_deletion_and_uninstall_remove_entries(redis):
    lists = Shortlists(redis)
    lists.add("T1", "old", "cats", "U1", now=100)
    lists.add("T1", "mine", "cats", "U2", now=1000)
    lists.add("T1", "theirs", "cats", "U3", now=1000)
    lists.add("T2", "other", "dogs", "U3", now=1000)
    assert lists.purge_before(500) == 1
    assert lists.forget_user("U2") == 1
    assert [e.name for e in lists.entries("T1")] == ["theirs"]
    RedisInstallationStore(redis).delete_installation(enterprise_id=None, team_id="T1")  # Bolt, on app_uninstalled
    assert lists.entries("T1") == [] and [e.name for e in lists.entries("T2")] == ["other"]


def test_the_shortlist_command_lists_it_in_words(redis):
    assert "empty" in list_things("shortlist", redis, "T1")
    Shortlists(redis).add("T1", "kafkify", "pypi", "U1", now=1_700_000_000)
    said = list_things("shortlist", redis, "T1")
    assert said.startswith("Your team's shortlist (1)") and "*kafkify* (pypi), added by <@U1>" in said
    assert "2023-11-14" in said
