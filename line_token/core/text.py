"""Text for people, without Flask: ``N_`` marks a message for translation, :class:`Duration` shows a length
of time. Every core module uses them (signing, the rules table, the inspector); the web layer and the CLI
translate what they mark."""
from __future__ import annotations

from typing import Callable


def N_(message: str) -> str:
    """Mark a message for translation without translating it (the web layer does)."""
    return message


class Duration(int):
    """A length of time in seconds inside an error message, in whole units: "1 h 59 min", "12 min", "3 d 4 h".

    At most two units, the larger first; the second only while the first counts under 10 (past that
    it is noise: "12 min", not "12 min 1 s"). Never a fraction: "1.99 h" reads as a clock time to some
    and as nothing to others. The web layer and the CLI show it in the user's language (:meth:`localised`).
    """

    UNITS = ((86400, N_("%(n)s d")), (3600, N_("%(n)s h")), (60, N_("%(n)s min")), (1, N_("%(n)s s")))
    JOIN = N_("%(first)s %(second)s")  # "1 h 59 min"; the Japanese catalog joins without a space
    CAP = 100 * 365 * 86400

    def pieces(self) -> list[tuple[str, str]]:
        """[(template, number), ...]: e.g. [("%(n)s h", "1"), ("%(n)s min", "59")]; any size of int.

        Rounded to the smallest unit shown (so 3,599 s is "1 h", not "59 min"), then split.
        """
        seconds = abs(int(self))
        if seconds >= self.CAP:
            return [(N_("over %(n)s years"), "100")]
        sizes = [size for size, _ in self.UNITS]
        top = next(i for i, size in enumerate(sizes) if seconds >= size or size == 1)
        step = sizes[top] if seconds // sizes[top] >= 10 or top == len(sizes) - 1 else sizes[top + 1]
        seconds = (seconds + step // 2) // step * step
        top = next(i for i, size in enumerate(sizes) if seconds >= size or size == 1)
        count, rest = divmod(seconds, sizes[top])
        found = [(self.UNITS[top][1], str(count))]
        if count < 10 and top + 1 < len(sizes) and rest // sizes[top + 1]:
            found.append((self.UNITS[top + 1][1], str(rest // sizes[top + 1])))
        return found

    def localised(self, gettext: Callable[[str], str]) -> str:
        """The duration in the language of ``gettext`` (a catalog's plain gettext)."""
        texts = [gettext(template) % {"n": number} for template, number in self.pieces()]
        return texts[0] if len(texts) == 1 else gettext(self.JOIN) % {"first": texts[0], "second": texts[1]}

    def __str__(self) -> str:
        return self.localised(lambda text: text)
