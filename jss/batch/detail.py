"""``DetailWriter``: a subject's score and detail JSON text from its figures, with the engine's own
scoring functions (SQLite, and the few subjects beyond exact SQL arithmetic)."""

from __future__ import annotations

from datetime import date

from jss import engine


class DetailWriter:
    """``engine.from_tallies`` as JSON text, fast: the same scoring functions, with each window's text, each
    fraction's 28-digit text and each weight's text worked out once per update and reused (a scheduled
    update writes ~1 KB of detail for every subject, so this is where its Python time goes). The property
    tests hold it equal to ``engine.compute``."""

    def __init__(self, as_of: date):
        self.as_of = as_of
        starts = engine._starts(as_of)
        self.window_heads = [
            f'"{name}":{{"start":"{start.isoformat()}","contracts":'
            for (name, _), start in zip(engine.WINDOWS, starts, strict=True)
        ]
        self.head = f'{{"algorithm_version":{engine.ALGORITHM_VERSION},"as_of":"{as_of.isoformat()}","score":'
        self.fractions: dict[tuple[int, int], tuple[str, int]] = {}
        self.weights: dict[int, str] = {}

    def _fraction(self, fraction) -> tuple[str, int | None]:
        """('"33.33…"', 33) for a score fraction, ('null', None) for none."""
        if fraction is None:
            return "null", None
        known = self.fractions.get(fraction)
        if known is None:
            value = engine._decimal(fraction)
            known = self.fractions[fraction] = (f'"{value}"', engine.round_half_up(value))
        return known

    def _weight(self, quarters: int) -> str:
        text = self.weights.get(quarters)
        if text is None:
            text = self.weights[quarters] = engine._weight_text(quarters)
        return text

    def detail(self, tallies, left_out: list[tuple[int, str]]) -> tuple[int | None, str | None, str]:
        """(score, window, detail as JSON text) for a subject without exclusions."""
        scores = engine._scores(tallies)
        window, current = engine._displayed(scores)
        unrounded, score = self._fraction(current)
        parts = [
            self.head,
            "null" if score is None else str(score),
            ',"window":',
            "null" if window is None else f'"{window}"',
            ',"unrounded":',
            unrounded,
            ',"windows":{',
        ]
        weight = self._weight
        for band, (head, tally) in enumerate(zip(self.window_heads, tallies, strict=True)):
            contracts, clients, positive, negative, total = tally
            qualifies = contracts >= 2 and clients >= 2
            parts.append(
                f'{"," if band else ""}{head}{contracts},"clients":{clients},'
                f'"qualifies":{"true" if qualifies else "false"},"positive_weight":"{weight(positive)}",'
                f'"negative_weight":"{weight(negative)}","total_weight":"{weight(total)}",'
                f'"score":{self._fraction(scores[engine.WINDOWS[band][0]])[0]}}}'
            )
        trending = scores[engine.TRENDING]
        parts.append(
            f',"trending":{{"of":["3m","6m"],"qualifies":{"false" if trending is None else "true"},'
            f'"score":{self._fraction(trending)[0]}}}}},"left_out":['
        )
        parts.append(",".join(f'{{"contract_id":{cid},"reason":"{reason}"}}' for cid, reason in left_out))
        parts.append('],"exclusions":[]}')
        return score, window, "".join(parts)
