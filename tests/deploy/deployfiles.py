"""Readers for the deployment files, for tests that check them without a Docker engine.

- the Dockerfile: instructions (comments and line continuations resolved), exec-form JSON arguments, ENV pairs;
- .dockerignore: Docker's matching rules (patterns relative to the context, `*` within a path segment, `**` across
  segments, a match on a folder excludes what is inside, `!` re-includes, the last matching pattern wins);
- compose files: `${VAR}`, `${VAR:-default}` and `${VAR:?message}` interpolation as Compose does it.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE_INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD / ENTRYPOINT / RUN, or None for the shell form."""
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value

    def flags_and_rest(self) -> tuple[dict[str, str], str]:
        """`--name=value` flags before the arguments (COPY --chown, HEALTHCHECK --interval) and what follows them."""
        flags: dict[str, str] = {}
        rest = self.arguments.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        return flags, rest


def read_dockerfile(path: Path = REPO / "Dockerfile") -> list[Instruction]:
    instructions: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # comment lines inside a continuation are dropped by Docker
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        pending = ""
        keyword, _, arguments = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """The build stages: each starts with its FROM (ARGs before the first FROM are left out)."""
    found: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions of the stage that makes the image (the last one)."""
    return stages(instructions)[-1]


def env_pairs(instruction: Instruction) -> dict[str, str]:
    """ENV a=1 b="two words" (the key=value form; the legacy `ENV key value` form too)."""
    words = shlex.split(instruction.arguments)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def dockerfile_env(instructions: list[Instruction]) -> dict[str, str]:
    """The ENV of the image: the final stage's (a build stage's ENV does not reach the image)."""
    env: dict[str, str] = {}
    for instruction in final_stage(instructions):
        if instruction.keyword == "ENV":
            env.update(env_pairs(instruction))
    return env


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"(?:/.*)?\Z")  # a pattern that matches a folder excludes everything inside it


def read_dockerignore(path: Path = REPO / ".dockerignore") -> list[tuple[bool, re.Pattern[str]]]:
    """(re-include?, regex) per pattern, in file order."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line[1:].strip() if negated else line
        pattern = pattern.strip("/").removeprefix("./")
        rules.append((negated, _pattern_regex(pattern)))
    return rules


def dockerignored(relative_path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether the build context leaves `relative_path` (posix, relative to the repo root) out."""
    excluded = False
    for negated, regex in rules:
        if regex.match(relative_path):
            excluded = not negated
    return excluded


_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(text: str, environment: dict[str, str]) -> str:
    """Compose's variable substitution; `${VAR:?message}` with VAR unset raises KeyError(message)."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        value = environment.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if unset else str(value)
        if op in (":?", "?"):
            if unset:
                raise KeyError(f"{name}: {arg}")
            return str(value)
        return value or ""

    return _INTERPOLATION.sub(replace, text)
