"""The command line as a user runs it: a real process, settings from the environment."""

import json
import subprocess
import sys

import pytest

from testkit.processes import tnaas_env
from tests.conftest import TRAINED


def tnaas(*args: str, artifacts) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tnaas", *args],
        capture_output=True,
        text=True,
        env=tnaas_env(artifacts, TNAAS_DEFAULT_CORPUS="pokemon"),
        timeout=120,
    )  # only cats and pokemon are trained


@pytest.fixture(scope="module")
def artifacts(trained_artifacts):
    return trained_artifacts


def test_train_reports_every_model(artifacts):
    out = tnaas("train", *TRAINED, artifacts=artifacts)
    assert out.returncode == 0, out.stderr
    assert "6 models ready" in out.stdout  # 4 name models, the judge, the language detector


def test_train_skips_what_is_up_to_date(artifacts):
    out = tnaas("train", "-c", "cats", "-m", "kn3", artifacts=artifacts)
    assert out.returncode == 0 and "up to date" in out.stdout + out.stderr


def test_generate_prints_n_numbered_names(artifacts):
    out = tnaas("generate", "pokemon", "-n", "7", "-m", "kn3", "--seed", "1", artifacts=artifacts)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    assert [ln.split(".")[0].strip() for ln in lines] == [str(i) for i in range(1, 8)]


def test_generate_answers_from_what_training_stored_without_loading_scikit_learn(artifacts):
    """The command line answers a generate from the reservoir and its stored columns: importing
    scikit-learn (about a second) and unpickling the judge would make every `tnaas generate` slow."""
    script = (
        "import runpy, sys\n"
        "sys.argv = ['tnaas', 'generate', 'pokemon', '--seed', '1']\n"
        "try:\n"
        "    runpy.run_module('tnaas', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'joblib', 'httpx'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=tnaas_env(artifacts, TNAAS_DEFAULT_CORPUS="pokemon"),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    *names, loaded = out.stdout.strip().splitlines()
    assert len(names) == 5 and loaded == "[]", out.stdout


def test_complete_prints_fillings_of_the_pattern(artifacts):
    out = tnaas("complete", "*u*a", "-c", "pokemon", "-m", "kn3", "-n", "4", artifacts=artifacts)
    assert out.returncode == 0, out.stderr
    names = [ln.split()[1] for ln in out.stdout.splitlines() if ln.strip()]
    assert len(names) == 4 and all(len(n) == 4 and n[1] == "u" and n[3] == "a" for n in names)


def test_generate_and_complete_answer_with_the_corpus_default_as_the_page_does(artifacts):
    """No model named, no votes: pokemon's default (the believability benchmark's kn3), and said so."""
    generated = tnaas("generate", "pokemon", "-n", "3", "--seed", "1", "--json", artifacts=artifacts)
    completed = tnaas("complete", "*u*a", "-c", "pokemon", "-n", "3", "--seed", "1", "--json", artifacts=artifacts)
    assert generated.returncode == completed.returncode == 0, generated.stderr + completed.stderr
    for reply in (json.loads(generated.stdout), json.loads(completed.stdout)):
        assert (reply["model"], reply["model_chosen_by"]) == ("kn3", "default"), reply


def test_eval_reports_every_trained_model(artifacts):
    out = tnaas("eval", artifacts=artifacts)
    assert out.returncode == 0, out.stderr
    for model in ("kn3", "markov2"):
        assert out.stdout.count(model) == 2  # cats and pokemon
    assert "load ms" in out.stdout and "memory MB" in out.stdout
    assert "judge confusion matrix" in out.stdout and "macro-F1" in out.stdout
    assert "Pokemon or tech? (held-out names)" in out.stdout
    assert "language detector accuracy per language" in out.stdout and "kk Kazakh" in out.stdout


def test_is_says_what_a_name_sounds_like(artifacts):
    out = tnaas("is", "snorlax", artifacts=artifacts)
    assert out.returncode == 0, out.stderr
    real = out.stdout.splitlines()[0]
    assert real.startswith("snorlax is a real name in:") and "pokemon" in real  # also a Debian package
    assert out.stdout.splitlines()[1].startswith("Pokemon or tech? Pokemon")  # the product's question first
    assert out.stdout.splitlines()[2].startswith("sounds like: pokemon")
    out = tnaas("lang", "Det", "här", "är", "en", "mening", "på", "svenska", artifacts=artifacts)
    assert out.returncode == 0 and out.stdout.startswith("language: Swedish")  # a text: its language first


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["generate", "pokemn"], "I don't know a corpus called 'pokemn'"),
        (["generate", "pokemon", "-m", "gpt"], "I don't know a model called 'gpt'"),
        (["complete", "qx*a", "-m", "markov2"], "No name matches"),
        (["generate", "dogs", "-m", "kn3"], "Run `tnaas train` first"),
        (["is", " "], "Give me a name or some text"),
    ],
)
def test_errors_are_friendly_and_exit_2(artifacts, args, says):
    out = tnaas(*args, artifacts=artifacts)
    assert out.returncode == 2 and says in out.stderr and out.stdout == ""
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize("command", [["generate", "pokemon"], ["complete", "p*ka"], ["like", "pika"]])
def test_every_command_refuses_a_negative_seed_plainly(artifacts, command):
    out = tnaas(*command, "--seed", "-5", artifacts=artifacts)
    assert out.returncode == 2 and "Invalid value for '--seed'" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr and "pydantic" not in out.stdout + out.stderr


def test_generate_shows_what_slack_and_the_api_show_for_the_same_request(artifacts):
    """The command line runs the same pipeline (pool, ranking, exploration); --raw shows plain samples."""
    import numpy as np

    from core.settings import Settings
    from jobs.contracts import GenerateRequest
    from jobs.pipeline import answer
    from models.registry import ModelRegistry

    def shown(*extra: str) -> list[str]:
        out = tnaas("generate", "pokemon", "-n", "5", "-m", "kn3", "--seed", "4", *extra, artifacts=artifacts)
        assert out.returncode == 0, out.stderr
        return [ln.split()[1] for ln in out.stdout.splitlines() if ln.strip()]

    registry = ModelRegistry(artifacts)
    request = GenerateRequest(corpus="pokemon", model="kn3", n=5, seed=4)
    reply = answer(request, registry, None, Settings(artifacts_dir=artifacts))
    assert shown() == [c.name for c in reply.candidates]
    plain = registry.model("pokemon", "kn3").generate(5, np.random.default_rng(4))
    assert shown("--raw") == [c.name for c in plain] != shown()
