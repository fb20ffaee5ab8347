"""requirements.lock pins every package pyproject.toml asks for (make lock writes it), so a
fresh install gets the versions CI tested."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_requirement_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    names = {normal(re.match(r"[A-Za-z0-9_.-]+", req).group(0)) for req in wanted}  # type: ignore[union-attr]
    names.discard(normal(project["name"]))  # the extras that name the project itself
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[normal(name)] = version
    missing = sorted(names - set(pins))
    assert not missing, f"run `make lock`: not in requirements.lock: {missing}"
