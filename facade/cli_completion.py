"""Shell completion scripts for ``dynio``, generated from the argument parser itself.

``eval "$(dynio completion bash)"`` (bash), ``eval "$(dynio completion zsh)"`` (zsh, through its
bash compatibility), ``dynio completion fish | source`` (fish). Commands, subcommands, options
and choices complete; options taking a path complete file names.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["script", "tree"]

Node = dict[str, Any]  # {"options": [...], "choices": {option: [...]}, "commands": {name: Node}}


def tree(parser: argparse.ArgumentParser) -> Node:
    """The parser's commands, options and choices as nested dictionaries."""
    node: Node = {"options": [], "choices": {}, "commands": {}, "help": {}}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                node["help"][choice.dest] = choice.help or ""
            for name, sub in action.choices.items():
                node["commands"][name] = tree(sub)
        elif action.option_strings:
            node["options"].extend(action.option_strings)
            if action.choices:
                for opt in action.option_strings:
                    node["choices"][opt] = [str(c) for c in action.choices]
        elif action.choices:  # a positional with choices (completion SHELL)
            node["commands"].update(
                {
                    str(c): {"options": [], "choices": {}, "commands": {}, "help": {}}
                    for c in action.choices
                }
            )
    return node


def _paths(node: Node, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Node]]:
    out = [(prefix, node)]
    for name, sub in node["commands"].items():
        out.extend(_paths(sub, (*prefix, name)))
    return out


def _bash(root: Node) -> str:
    cases = []
    for path, node in _paths(root):
        words = " ".join([*node["commands"], *node["options"]])
        key = " ".join(path)
        choice_cases = "".join(
            f'            {opt}) COMPREPLY=($(compgen -W "{" ".join(vals)}" -- "$cur")); return;;\n'
            for opt, vals in node["choices"].items()
        )
        cases.append(
            f'        "{key}")\n'
            f'            case "$prev" in\n{choice_cases}'
            "            -c|--config|-o|--output|--out)"
            ' COMPREPLY=($(compgen -f -- "$cur")); return;;\n'
            "            esac\n"
            f'            COMPREPLY=($(compgen -W "{words}" -- "$cur"));;\n'
        )
    commands = " ".join(sorted({n for p, _ in _paths(root) for n in p}))
    return (
        "# dynio completion for bash (and zsh via bashcompinit)\n"
        "_dynio_complete() {\n"
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" path="" w\n'
        '    for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do\n'
        f'        case " {commands} " in *" $w "*) path="${{path:+$path }}$w";; esac\n'
        "    done\n"
        '    case "$path" in\n' + "".join(cases) + "    esac\n"
        "}\n"
        "complete -o default -F _dynio_complete dynio\n"
    )


def _zsh(root: Node) -> str:
    return "# dynio completion for zsh\nautoload -U +X bashcompinit && bashcompinit\n" + _bash(root)


def _fish(root: Node) -> str:
    lines = ["# dynio completion for fish", "complete -c dynio -f"]
    for path, node in _paths(root):
        if path:
            cond = " ".join(f"__fish_seen_subcommand_from {p};" for p in path)
            cond = f"-n '{cond.rstrip(';')}'"
        else:
            cond = "-n '__fish_use_subcommand'"
        for name in node["commands"]:
            desc = str(node["help"].get(name, "")).replace("'", "")
            lines.append(f"complete -c dynio {cond} -a {name} -d '{desc}'")
        for opt in node["options"]:
            flag = f"-l {opt[2:]}" if opt.startswith("--") else f"-s {opt[1:]}"
            extra = ""
            if opt in node["choices"]:
                extra = f" -x -a '{' '.join(node['choices'][opt])}'"
            elif opt in ("-c", "--config", "-o", "--output", "--out"):
                extra = " -r -F"
            lines.append(f"complete -c dynio {cond} {flag}{extra}")
    return "\n".join(lines) + "\n"


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (``bash``, ``zsh`` or ``fish``)."""
    root = tree(parser)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](root)
