"""What the workers' fork server holds before it forks them (tnaas.forking): imported there, and only there.

Every module a worker imports, the deployed models mapped, and the tables a worker would otherwise
build on its first job, made once in the server: each forked worker starts with them, sharing their
pages with the server and its siblings until it writes to them.
"""

import importlib
import logging

from availability.rules import pypi_stdlib_names
from core.errors import OperatorError, TNaaSError
from core.settings import get_settings
from models.registry import ModelRegistry

MODULES = (
    "tnaas.cli",  # the command a forked process runs, and through it the models and the pipeline
    "jobs.worker",
    "jobs.pipeline",
    "jobs.metrics",
    "jobs.tasks",  # job functions, run by dotted path
    "jobs.upkeep",
    "bot.slack.tasks",
    "httpcore",  # httpx imports these only when the availability checker makes its first client
    "h11",
)
for module in MODULES:
    importlib.import_module(module)
pypi_stdlib_names()  # every Python version's standard-library names, canonicalised: ~0.4 s of a first job
try:  # a worker's registry takes over what is unchanged on disk since (ModelRegistry.reusing)
    registry = ModelRegistry(get_settings().artifacts_dir, get_settings().learnt_dir)
    registry.preload()
    ModelRegistry.forked_with = registry
except (TNaaSError, OperatorError, OSError) as err:  # each worker then loads, and says what is wrong
    logging.getLogger(__name__).warning("the fork server mapped no models: %s", err)
