"""Write cookiecutter.json from copier.yml: the same questions, defaults and help texts.

copier.yml is the one source of truth; run this after changing a question
(tests/test_cookiecutter.py fails while the two disagree):

    python scripts/sync_cookiecutter.py          # rewrite cookiecutter.json
    python scripts/sync_cookiecutter.py --check  # exit 1 if it is out of date

Mapping: a choice question becomes a cookiecutter list (its default first, labels as choice
prompts); a multiselect becomes a comma-separated string ("sql,files"); a bool stays a JSON
bool; a default computed from earlier answers keeps its Jinja, reading `cookiecutter.<name>`.
Computed questions (`when: false`) stay out: Copier derives them from the answers.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "cookiecutter.json"


def questions(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The questions a user answers (computed ones, `when: false`, are Copier's business)."""
    return {
        k: v
        for k, v in config.items()
        if not k.startswith("_")
        and isinstance(v, dict)
        and str(v.get("when", True)).strip().lower() != "false"
    }


def choice_pairs(choices: Any) -> list[tuple[str, str]]:
    """(value, label) pairs of a copier choices list or `Label: value` mapping."""
    if isinstance(choices, dict):
        return [(str(value), str(label)) for label, value in choices.items()]
    return [(str(value), str(value)) for value in choices]


def cookiecutter_default(value: Any, names: list[str]) -> Any:
    if not isinstance(value, str) or "{{" not in value:
        return value
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")

    def rewrite(block: re.Match[str]) -> str:
        return pattern.sub(r"cookiecutter.\1", block.group(0))

    return re.sub(r"\{\{.*?\}\}", rewrite, value)


def build(config: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    prompts: dict[str, Any] = {}
    earlier: list[str] = []
    for name, q in questions(config).items():
        default = q.get("default")
        help_text = str(q.get("help", name))
        if "choices" in q:
            pairs = choice_pairs(q["choices"])
            if q.get("multiselect"):
                values = ", ".join(value for value, _ in pairs)
                context[name] = ",".join(default or [])
                prompts[name] = f"{help_text} (comma-separated: {values})"
            else:
                pairs.sort(key=lambda pair: pair[0] != str(default))
                context[name] = [value for value, _ in pairs]
                prompts[name] = {"__prompt__": help_text, **dict(pairs)}
        else:
            context[name] = cookiecutter_default(default, earlier)
            prompts[name] = help_text
        earlier.append(name)
    return {**context, "__prompts__": prompts}


def render() -> str:
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    return json.dumps(build(config), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print("cookiecutter.json is out of date: run python scripts/sync_cookiecutter.py")
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
