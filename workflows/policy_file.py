"""The data sharing agreement's TOML file: reading, validating and reporting its mistakes.

``load_policy`` turns a file into a ``workflows.policy.DataSharingAgreement`` with its bank
holidays resolved; ``check_policy_file`` is what ``sharehub policy check FILE`` prints. The
rules of the agreement live in ``workflows.policy``; this module only reads. Workers call it
at start-up and hand the loaded agreement to workflows, which never read a file.

Errors: ``PolicyError``, for a file that cannot be read, parsed or validated. Its message
names the file and the field, one line per problem::

    policy/demo-dsa.toml: agencies[3].bus_subject: Field required
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workflows.policy import INCONSISTENT_POLICY, DataSharingAgreement


@dataclass(frozen=True)
class PolicyProblem:
    where: str
    """A field path such as ``agencies[3].bus_subject``, or ``line 4, column 9``."""
    message: str


class PolicyError(Exception):
    """A policy file that cannot be read, parsed or validated."""

    def __init__(self, path: str | os.PathLike[str], problems: Sequence[PolicyProblem]) -> None:
        self.path = str(path)
        self.problems = tuple(problems)
        super().__init__(
            "\n".join(f"{self.path}: {problem.where}: {problem.message}" for problem in problems)
        )


def load_policy(path: str | os.PathLike[str]) -> DataSharingAgreement:
    """Read, validate and complete (bank holidays resolved) the agreement in a TOML file.

    Raises:
        PolicyError: naming the file and each field that is wrong.
    """
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise PolicyError(path, [PolicyProblem("file", e.strerror or str(e))]) from e
    except UnicodeDecodeError as e:
        raise PolicyError(path, [PolicyProblem("file", f"not UTF-8 text ({e.reason})")]) from e
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(path, [_toml_problem(e)]) from e
    try:
        policy = DataSharingAgreement.model_validate(document)
    except ValidationError as e:
        raise PolicyError(path, _validation_problems(e)) from e
    try:
        return policy.with_bank_holidays_resolved()
    except ValueError as e:
        raise PolicyError(path, [PolicyProblem("calendar.bank_holidays", str(e))]) from e


def check_policy_file(path: str | os.PathLike[str]) -> str:
    """What ``sharehub policy check FILE`` prints for a valid file.

    Raises:
        PolicyError: the file is not a valid agreement; print ``str(error)``.
    """
    return f"{path}: valid\n{load_policy(path).describe()}"


def _toml_problem(error: tomllib.TOMLDecodeError) -> PolicyProblem:
    # Python 3.11's TOMLDecodeError carries the position only inside its message.
    match = re.fullmatch(r"(?s)(.*) \(at line (\d+), column (\d+)\)", str(error))
    if match is None:
        return PolicyProblem("TOML", str(error))
    reason, line, column = match.groups()
    return PolicyProblem(f"line {line}, column {column}", f"invalid TOML: {reason}")


def _validation_problems(error: ValidationError) -> list[PolicyProblem]:
    problems = []
    for detail in error.errors():
        if detail["type"] == INCONSISTENT_POLICY:
            # Raised once for the whole agreement, carrying each problem with its own path.
            context: dict[str, Any] = detail.get("ctx", {})
            problems += [PolicyProblem(field, message) for field, message in context["problems"]]
        else:
            problems.append(PolicyProblem(_field_path(detail["loc"]), detail["msg"]))
    return problems


def _field_path(location: tuple[int | str, ...]) -> str:
    """``('agencies', 3, 'bus_subject')`` -> ``agencies[3].bus_subject``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += " (key)"
        else:
            path += f".{part}" if path else part
    return path or "(top level)"
