"""What a Kubernetes node changes on the machine, put back afterwards.

A node's kubelet, kube-proxy and CNI plugins add iptables chains and rules and
set kernel parameters. Other programs on a shared machine (a container engine,
say) may change the same tables meanwhile, so the tables are not restored from
a snapshot wholesale: only the chains and rules that appeared during the run
and belong to the node (by name, by the pod and service networks, by the CNI
network's name) are removed. The kernel parameters are written back to the
values they had.
"""

from __future__ import annotations

import shlex
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SYSCTL = Path("/proc/sys")


@dataclass(frozen=True)
class Rules:
    """One iptables table as `iptables-save` prints it: chain names and rule lines."""

    chains: frozenset[str]
    rules: Counter[str]


def _save(command: str) -> dict[str, Rules]:
    done = subprocess.run([f"{command}-save"], capture_output=True, text=True, check=True)
    tables: dict[str, Rules] = {}
    table = ""
    chains: set[str] = set()
    rules: Counter[str] = Counter()
    for line in done.stdout.splitlines():
        if line.startswith("*"):
            table, chains, rules = line[1:], set(), Counter()
        elif line.startswith(":"):
            chains.add(line[1:].split()[0])
        elif line.startswith("-A "):
            rules[line] += 1
        elif line == "COMMIT":
            tables[table] = Rules(frozenset(chains), rules)
    return tables


@dataclass
class Machine:
    """`snapshot`, then `restore`: removes the node's rules and restores the parameters."""

    owned: Sequence[str]  # substrings that mark a chain or rule as the node's
    sysctls: Sequence[str]  # parameters under /proc/sys, e.g. "vm/overcommit_memory"
    _parameters: dict[str, str] = field(default_factory=dict)
    _tables: dict[str, dict[str, Rules]] = field(default_factory=dict)

    def snapshot(self) -> None:
        """What `restore` puts back: the parameters' values and the rules of now."""
        for name in self.sysctls:
            path = SYSCTL / name
            if path.exists():
                self._parameters[name] = path.read_text().strip()
        for command in ("iptables", "ip6tables"):
            self._tables[command] = _save(command)

    def _ours(self, text: str) -> bool:
        return any(mark in text for mark in self.owned)

    def restore(self) -> list[str]:
        """Put the machine back; returns what could not be (empty when all went well)."""
        problems: list[str] = []
        for command, before in self._tables.items():
            problems += self._remove_rules(command, before)
        for name, value in self._parameters.items():
            path = SYSCTL / name
            if path.read_text().strip() != value:
                try:
                    path.write_text(value)
                except OSError as error:
                    problems.append(f"{name}: {error}")
        return problems

    def _remove_rules(self, command: str, before: dict[str, Rules]) -> list[str]:
        problems: list[str] = []
        for table, now in _save(command).items():
            old = before.get(table, Rules(frozenset(), Counter()))
            new_chains = {c for c in now.chains - old.chains if self._ours(c)}
            for rule, count in (now.rules - old.rules).items():
                chain = rule.split()[1]
                if chain in new_chains or not self._ours(rule):
                    continue
                spec = shlex.split(rule)[1:]
                for _ in range(count):
                    problems += _run([command, "-t", table, "-D", *spec])
            for action in ("-F", "-X"):
                for chain in sorted(new_chains):
                    problems += _run([command, "-t", table, action, chain])
            if table not in before and not _save(command).get(table, now).rules:
                # A table the node's tools made and left empty (iptables-nft keeps it).
                family = "ip6" if command == "ip6tables" else "ip"
                problems += _run(["nft", "delete", "table", family, table])
        return problems


def _run(argv: list[str]) -> list[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return [] if done.returncode == 0 else [f"{' '.join(argv)}: {done.stderr.strip()}"]
