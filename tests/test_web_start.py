"""The web process starts light: a restart answers within a second because `tnaas web` loads the
surfaces, the store and the job contracts, never the models, the worker or scikit-learn/scipy.
(import-linter's "web" contract checks bot.web's imports; this checks what the command really loads,
the command line included.)"""

import json
import subprocess
import sys

from testkit.processes import tnaas_env

NEVER_IN_THE_WEB = ("models", "sklearn", "scipy", "torch", "jobs.worker", "jobs.pipeline", "jobs.tasks")
NEVER_IN_THE_WEB += ("bot.slack.tasks", "bot.slack.replies")


def test_tnaas_web_builds_its_app_without_the_models_or_the_worker(tmp_path):
    code = (
        "import json, sys; import tnaas.cli; from bot.web import create_app; create_app(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {k: v for k, v in tnaas_env(tmp_path).items() if not k.startswith("SLACK_")}  # no Bolt, no auth.test
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert "bot.web" in loaded and "jobs.contracts" in loaded
    assert [m for m in loaded if any(m == h or m.startswith(h + ".") for h in NEVER_IN_THE_WEB)] == []
