"""What an import did, counted as it goes and written out at the end."""

from collections import Counter
from dataclasses import dataclass, field

SAMPLES = 5


@dataclass
class Tally:
    """How many rows had one outcome, and the first few of them."""

    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, sample: str, count: int = 1) -> None:
        self.count += count
        if len(self.samples) < SAMPLES:
            self.samples.append(sample)

    def line(self, label: str) -> str:
        shown = ", ".join(self.samples)
        more = ", …" if self.count > len(self.samples) else ""
        return f"    {label}: {self.count} ({shown}{more})"


class Tallies(dict[str, Tally]):
    def add(self, reason: str, sample: str, count: int = 1) -> None:
        self.setdefault(reason, Tally()).add(sample, count)

    @property
    def total(self) -> int:
        return sum(tally.count for tally in self.values())

    def lines(self, heading: str) -> list[str]:
        if not self:
            return []
        ordered = sorted(self.items(), key=lambda item: -item[1].count)
        return [f"  {heading}:"] + [tally.line(reason) for reason, tally in ordered]


@dataclass
class Report:
    source: str
    dry_run: bool
    zone: str = ""
    accounts_created: int = 0
    accounts_existing: int = 0
    accounts_skipped: Tallies = field(default_factory=Tallies)
    # Every `rol = 'admin'` row: (usuario, what became of it).
    admin_rows: list[tuple[str, str]] = field(default_factory=list)
    account_notes: Tallies = field(default_factory=Tallies)
    messages_imported: int = 0
    messages_existing: int = 0
    messages_skipped: Tallies = field(default_factory=Tallies)
    message_roles: Counter = field(default_factory=Counter)
    threads_updated: int = 0
    seconds: float = 0.0

    def text(self) -> str:
        lines = [f"Import from {self.source}"]
        if self.dry_run:
            lines.append(
                "Dry run: nothing was changed; the counts are what a run would do."
            )
        lines.append(
            f"Accounts: {self.accounts_created} created, "
            f"{self.accounts_existing} already imported, "
            f"{self.accounts_skipped.total} skipped"
        )
        lines += self.accounts_skipped.lines("skipped")
        lines += self.account_notes.lines("imported, with a note")
        if self.admin_rows:
            lines.append(f"  rows with rol 'admin': {len(self.admin_rows)}")
            lines += [f"    {name}: {outcome}" for name, outcome in self.admin_rows]
        lines.append(
            f"Messages: {self.messages_imported} imported, "
            f"{self.messages_existing} already imported, "
            f"{self.messages_skipped.total} skipped"
        )
        if self.message_roles:
            lines.append(
                f"  {self.message_roles['user']} from customers, "
                f"{self.message_roles['admin']} from the team; "
                f"fecha read as {self.zone}"
            )
        lines += self.messages_skipped.lines("skipped")
        if not self.dry_run:
            lines.append(f"Conversations brought up to date: {self.threads_updated}")
        lines.append(f"Took {self.seconds:.1f} s")
        return "\n".join(lines) + "\n"
