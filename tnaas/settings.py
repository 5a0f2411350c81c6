"""Every setting in one place, read from the environment (prefix ``TNAAS_``) or a ``.env`` file."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TNAAS_", env_file=".env", extra="ignore")

    artifacts_dir: Path = Field(Path("artifacts"), description="where `tnaas train` writes models")
    default_model: str = Field("kn5", description="model used when a request names none")
    default_n: int = Field(5, ge=1, description="names per request when none is asked for")
    max_n: int = Field(20, ge=1, description="most names one request may ask for")
    log_level: str = Field("INFO", description="logging level")


@cache
def get_settings() -> Settings:
    return Settings()
