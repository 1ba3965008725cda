"""The serving image's Dockerfile and build context, checked without a Docker engine (none runs on this machine)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

from latentct.core.config import Settings
from tests.deploy.deployfiles import (
    DOCKERFILE_INSTRUCTIONS,
    REPO,
    Instruction,
    dockerfile_env,
    dockerignored,
    final_stage,
    read_dockerfile,
    read_dockerignore,
    stages,
)

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return read_dockerfile()


@pytest.fixture(scope="module")
def final(instructions: list[Instruction]) -> list[Instruction]:
    """The stage that makes the image."""
    return final_stage(instructions)


@pytest.fixture(scope="module")
def build_stages(instructions: list[Instruction]) -> dict[str, list[Instruction]]:
    """The named build stages (`FROM ... AS name`)."""
    return {stage[0].arguments.split(" AS ")[1]: stage for stage in stages(instructions)[:-1]}


def _only(instructions: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
    return found[0]


def _copy_sources(instructions: list[Instruction]) -> list[str]:
    """Sources of the COPYs from the build context (a COPY --from=<stage> is checked on its own)."""
    sources = []
    for instruction in instructions:
        if instruction.keyword in ("COPY", "ADD"):
            flags, rest = instruction.flags_and_rest()
            if "from" not in flags:
                sources += rest.split()[:-1]
    return sources


def _bind_mounts(instructions: list[Instruction]) -> list[str]:
    """Sources of `RUN --mount=type=bind,source=...` (read from the build context too)."""
    sources = []
    for instruction in instructions:
        if instruction.keyword == "RUN":
            flags, _ = instruction.flags_and_rest()
            if "mount" in flags:
                options = dict(part.split("=", 1) for part in flags["mount"].split(","))
                assert options["type"] == "bind", options
                sources.append(options["source"])
    return sources


def test_every_instruction_is_a_dockerfile_instruction(instructions: list[Instruction], final: list[Instruction]) -> None:
    keywords = [i.keyword for i in instructions]
    assert set(keywords) <= DOCKERFILE_INSTRUCTIONS, set(keywords) - DOCKERFILE_INSTRUCTIONS
    assert keywords[0] in ("FROM", "ARG") and "FROM" in keywords
    for keyword in ("CMD", "HEALTHCHECK", "USER", "WORKDIR"):
        _only(final, keyword)
    assert "ADD" not in keywords, "COPY is explicit; ADD fetches URLs and unpacks archives"


def test_the_base_image_is_a_build_argument_defaulting_to_slim_python(instructions: list[Instruction]) -> None:
    """Slim Python where a registry is reachable; a local base (scripts/build_base_image.sh) where none is."""
    arg = instructions[0]
    assert arg.keyword == "ARG" and arg.arguments.startswith("BASE_IMAGE="), "ARG BASE_IMAGE before the first FROM"
    assert re.fullmatch(r"python:3\.1[0-3]-slim(-\w+)?", arg.arguments.split("=", 1)[1]), arg
    froms = [i.arguments for i in instructions if i.keyword == "FROM"]
    # the same Python where the venv is made and where it runs
    assert froms == ["${BASE_IMAGE} AS deps", "deps AS runtime-deps", "deps AS app", "${BASE_IMAGE}"], froms
    assert (REPO / "scripts" / "build_base_image.sh").is_file()


def test_a_multi_stage_build_leaves_installers_and_sources_behind(build_stages: dict[str, list[Instruction]],
                                                                   final: list[Instruction]) -> None:
    copies = [i.flags_and_rest() for i in final if i.keyword == "COPY"]
    from_stages = [(flags["from"], rest) for flags, rest in copies if "from" in flags]
    # only the installed environment (without pip) and the installed package come from the build stages
    assert from_stages == [("runtime-deps", "/opt/latentct /opt/latentct"), ("app", "/opt/latentct-app /opt/latentct-app")]
    final_runs = " ".join(i.arguments for i in final if i.keyword == "RUN")
    for installer in ("pip ", "apt-get", "gcc", "curl"):
        assert installer not in final_runs, f"{installer.strip()} in the final stage"
    runs = {name: " ".join(i.arguments for i in stage if i.keyword == "RUN") for name, stage in build_stages.items()}
    assert "python3 -m venv /opt/latentct" in runs["deps"] and "/opt/latentct-app >" in runs["deps"]  # the .pth file
    assert "pip uninstall -y -q pip setuptools" in runs["runtime-deps"], "the venv ships without its installer"
    assert "rm -rf torch/include" in runs["runtime-deps"]
    assert "--no-deps" in runs["app"] and "--target /opt/latentct-app" in runs["app"]
    assert dockerfile_env(build_stages["deps"])["PIP_NO_CACHE_DIR"] == "1"
    assert dockerfile_env(final)["PATH"].startswith("/opt/latentct-app/bin:/opt/latentct/bin:")


def test_every_copy_source_exists_and_is_in_the_build_context(instructions: list[Instruction]) -> None:
    rules = read_dockerignore()
    sources = _copy_sources(instructions)
    assert {"pyproject.toml", "README.md", "backend", "frontend", "models"} <= set(sources)
    assert _bind_mounts(instructions) == ["deploy/wheels"] * 3
    for source in sources + _bind_mounts(instructions):
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"
        assert not dockerignored(source, rules), f"COPY {source}: excluded by .dockerignore"


def test_the_build_context_leaves_out_what_the_image_must_not_carry() -> None:
    rules = read_dockerignore()
    for left_out in (".git", ".venv", "tests/api/conftest.py", "bench/bench_load.py", "runs/x", "data/phantom/slices.npy",
                     "backend/latentct/__pycache__/config.cpython-311.pyc", "var/labels.sqlite3",
                     ".hypothesis/examples/x", ".schemathesis/default/cache", "docs/deployment.md", "server.log",
                     "backend/latentct.egg-info/PKG-INFO"):
        assert dockerignored(left_out, rules), left_out
    package_files = [p for p in (REPO / "backend" / "latentct").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    web_files = [p for p in (REPO / "frontend").rglob("*") if p.is_file()]
    for path in package_files + web_files:
        assert not dockerignored(path.relative_to(REPO).as_posix(), rules), path


def test_the_image_runs_as_a_non_root_user(final: list[Instruction]) -> None:
    instructions = final
    user = _only(instructions, "USER")
    name = user.arguments.split(":")[0]
    assert name not in ("root", "0", "")
    creation = " ".join(i.arguments for i in instructions if i.keyword == "RUN" and "useradd" in i.arguments)
    assert re.search(rf"useradd\b.*\b{re.escape(name)}\b", creation), "the USER is never created"
    uid = re.search(r"--uid\s+(\d+)", creation)
    assert uid and int(uid.group(1)) != 0
    order = [i.keyword for i in instructions]
    assert order.index("USER") < order.index("CMD") and order.index("USER") > max(
        n for n, i in enumerate(instructions) if i.keyword == "RUN"), "every RUN as root, then drop to the user"


def test_healthcheck_is_readiness_in_python_not_curl(final: list[Instruction]) -> None:
    healthcheck = _only(final, "HEALTHCHECK")
    flags, rest = healthcheck.flags_and_rest()
    assert rest.startswith("CMD ")
    command = Instruction("CMD", rest[4:], healthcheck.line).exec_form()
    assert command == ["python", "-m", "latentct.healthcheck", "--ready"]  # /api/ready: every model loaded and warm
    assert {"interval", "timeout", "start-period", "retries"} <= set(flags)
    text = (REPO / "Dockerfile").read_text()
    assert "curl" not in re.sub(r"#.*", "", text) and "wget" not in text
    assert (REPO / "backend" / "latentct" / "healthcheck.py").is_file()


def test_the_command_is_latentct_serve_in_exec_form(instructions: list[Instruction], final: list[Instruction]) -> None:
    assert _only(final, "CMD").exec_form() == ["latentct", "serve"]  # exec form: SIGTERM reaches the server
    assert PYPROJECT["project"]["scripts"]["latentct"] == "latentct.cli:main"
    assert "ENTRYPOINT" not in [i.keyword for i in instructions]


def test_torch_comes_from_the_local_wheel_or_the_build_argument_index_in_the_pyproject_range(
        instructions: list[Instruction]) -> None:
    torch_spec = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch"))
    installs = [i.arguments for i in instructions
                if i.keyword == "RUN" and "torch" in i.arguments and "rm -rf" not in i.arguments]
    assert len(installs) == 1
    _, command = Instruction("RUN", installs[0], 0).flags_and_rest()
    with_wheel, _, from_index = command.partition("else")
    assert 'pip install --find-links /wheels /wheels/torch-*.whl "' + torch_spec + '"' in with_wheel  # the range holds
    assert f'pip install --index-url "${{TORCH_INDEX_URL}}" "{torch_spec}"' in from_index
    arg = next(i.arguments for i in instructions if i.keyword == "ARG" and i.arguments.startswith("TORCH_INDEX_URL"))
    assert arg == "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"  # CPU unless asked otherwise


def test_the_app_installs_without_training_or_test_extras(instructions: list[Instruction]) -> None:
    installs = [i.flags_and_rest()[1] for i in instructions if i.keyword == "RUN" and "pip install" in i.arguments]
    app = [a for a in installs if " . " in a or a.endswith(" .") or '".[' in a or "'.[" in a]
    assert len(app) == 1 and "pip install --no-deps --find-links /wheels --target /opt/latentct-app ." in app[0]
    dependencies = [a for a in installs if "-r requirements.txt" in a]
    assert len(dependencies) == 1  # pyproject's dependencies plus the postgres extra, nothing else
    assert 'p["dependencies"] + p["optional-dependencies"]["postgres"]' in dependencies[0]
    for install in installs:  # offline: deploy/wheels only
        assert install.startswith('if [ "${WHEELS_ONLY}" = 1 ]; then export PIP_NO_INDEX=1; fi'), install
    assert "postgres" in PYPROJECT["project"]["optional-dependencies"]
    assert not any(re.search(r"\[[^\]]*\bdev\b", a) or " -e " in a for a in installs), "no dev extra, no editable install"


def test_env_names_real_settings_and_matches_the_copied_paths(instructions: list[Instruction],
                                                             final: list[Instruction]) -> None:
    env = dockerfile_env(instructions)
    instructions = final
    fields = {f"LATENTCT_{name.upper()}" for name in Settings.model_fields}
    latentct_env = {k: v for k, v in env.items() if k.startswith("LATENTCT_")}
    assert set(latentct_env) <= fields, set(latentct_env) - fields
    workdir = _only(instructions, "WORKDIR").arguments
    assert env["LATENTCT_MODELS_DIR"] == f"{workdir}/models" and env["LATENTCT_FRONTEND_DIR"] == f"{workdir}/frontend"
    assert env["LATENTCT_HOST"] == "0.0.0.0"
    assert _only(instructions, "EXPOSE").arguments == env["LATENTCT_PORT"]
    assert env["LATENTCT_DATA_DIR"] in _only(instructions, "VOLUME").arguments
    settings = Settings(**{k.removeprefix("LATENTCT_").lower(): v for k, v in latentct_env.items()})
    assert settings.port == int(env["LATENTCT_PORT"])


@pytest.mark.slow
def test_the_installed_package_carries_every_runtime_file(tmp_path: Path) -> None:
    """The image installs a wheel (not an editable checkout): migrations, vocabulary and templates must be in it."""
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools in this environment")
    context = tmp_path / "context"
    rules = read_dockerignore()
    for source in ("pyproject.toml", "README.md", "backend"):
        for path in [REPO / source, *sorted((REPO / source).rglob("*"))]:
            relative = path.relative_to(REPO).as_posix()
            if path.is_file() and not dockerignored(relative, rules):
                (context / relative).parent.mkdir(parents=True, exist_ok=True)
                (context / relative).write_bytes(path.read_bytes())
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(context), "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("latentct-*.whl"))
    packaged = set(zipfile.ZipFile(wheel).namelist())
    package = REPO / "backend" / "latentct"
    expected = {f"latentct/{p.relative_to(package).as_posix()}" for p in package.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert expected - packaged == set()
    entry_points = next(n for n in packaged if n.endswith("entry_points.txt"))
    assert "latentct = latentct.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
