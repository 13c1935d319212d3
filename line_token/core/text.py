"""Text for people, without Flask: ``N_`` marks a message for translation, :class:`Duration` shows a length
of time. Every core module uses them (signing, the rules table, the inspector); the web layer and the CLI
translate what they mark."""
from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for translation without translating it (the web layer does)."""
    return message


class Duration(int):
    """A length of time in seconds inside an error message; shown roughly ("2 h", "3.5 d").

    The web layer shows it in the user's language (errors.translate_error).
    """

    UNITS = ((86400, N_("%(n)s d")), (3600, N_("%(n)s h")), (60, N_("%(n)s min")), (1, N_("%(n)s s")))
    CAP = 100 * 365 * 86400

    def parts(self) -> tuple[str, str]:
        """(template, number): e.g. ("%(n)s h", "2"); any size of int, no float overflow."""
        seconds = int(self)
        if seconds >= self.CAP:
            return N_("over %(n)s years"), "100"
        for size, template in self.UNITS:
            if seconds >= size or size == 1:
                return template, (f"{seconds / size:.3g}" if size > 1 else str(seconds))
        raise AssertionError("unreachable")

    def __str__(self) -> str:
        template, number = self.parts()
        return template % {"n": number}
