"""Which comparison a report makes: randomised, adjusted or raw, chosen from every call's cells (pure).
The rule, the reasons in words and the case-mix test (docs/metrics.md "Comparison modes")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .definitions import SPLIT, Cell, DeskSums, Selection
from .standardise import ChiSquare, chi_square_homogeneity, standard_weights

MODES = ("randomised", "adjusted", "raw")
MIN_SPLIT_CALLS = 30  # the default headline is randomised when both desks have at least this many
# a segment is standardised over only when each desk has at least this many offered calls in it: a handful
# of calls (one overflowed call, say) would otherwise carry the segment's whole weight for that desk
MIN_SEGMENT_CALLS = 10
CASE_MIX_ALPHA = 0.05
ROUGH_EXPECTED = 5  # Cochran: a chi-square test is rough when an expected count is under 5
Cells = Mapping[str, Mapping[Cell, DeskSums]]  # desk -> (segment, arm) -> sums


def segments_served(cells: Cells, desk: str) -> dict[str, int]:
    """The desk's offered calls per segment (both arms), for the segments it served."""
    offered: dict[str, int] = {}
    for (segment, _arm), sums in cells.get(desk, {}).items():
        if sums.offered:
            offered[segment] = offered.get(segment, 0) + sums.offered
    return offered


def split_calls(cells: Cells, desk: str, segment: str | None) -> int:
    """The desk's offered calls that a split assigned to it (in the segment, or in all)."""
    return sum(
        sums.offered
        for (cell_segment, arm), sums in cells.get(desk, {}).items()
        if arm == SPLIT and (segment is None or cell_segment == segment)
    )


def every_segment(cells: Cells, names: tuple[str, str]) -> list[str]:
    """The segments either desk served in the period (the segment filter's choices), sorted."""
    return sorted(set(segments_served(cells, names[0])) | set(segments_served(cells, names[1])))


def check_segment(cells: Cells, names: tuple[str, str], segment: str | None) -> None:
    """ValueError unless the segment asked for is one that either desk served in the period."""
    if segment is None:
        return
    served = every_segment(cells, names)
    if segment not in served:
        choices = ", ".join(served) if served else "none: neither desk has calls in the period"
        raise ValueError(f"segment: {segment!r} is not a segment either desk served in the period "
                         f"(choose one of: {choices})")  # fmt: skip


def common_segments(
    cells: Cells, names: tuple[str, str], segment: str | None
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The standard weights over the segments both desks served (within the filter), and the ones left out."""
    offered = [segments_served(cells, name) for name in names]
    if segment is not None:
        offered = [{s: n for s, n in mine.items() if s == segment} for mine in offered]
    enough = [{s: n for s, n in mine.items() if n >= MIN_SEGMENT_CALLS} for mine in offered]
    weights, _one_desk = standard_weights(enough[0], enough[1])
    left_out = sorted({s for mine in offered for s in mine} - set(weights))
    listed = [
        {"segment": s, "desk": name, "calls": mine[s]}
        for s in left_out
        for name, mine in zip(names, offered, strict=True)
        if mine.get(s)
    ]
    return weights, listed


@dataclass(frozen=True)
class Choice:
    """The mode a report shows, why, what each mode would give, and the calls its figures cover."""

    mode: str
    reason: str
    modes: dict[str, Any]
    selection: Selection
    weights: dict[str, float]  # the adjusted mode's standard weights (common segments)


def _split_mix(cells: Cells, names: tuple[str, str], segment: str | None) -> ChiSquare:
    """The chi-square test of the two desks' split calls over segments: the splits pooled are comparable
    only if they send both desks the same mix."""
    offered = [
        {s: sums.offered for (s, arm), sums in cells.get(name, {}).items() if arm == SPLIT} for name in names
    ]
    wanted = sorted({s for mine in offered for s in mine if segment is None or s == segment})
    return chi_square_homogeneity({s: (offered[0].get(s, 0), offered[1].get(s, 0)) for s in wanted})


def _randomised(cells: Cells, names: tuple[str, str], segment: str | None) -> dict[str, Any]:
    counts = {name: split_calls(cells, name, segment) for name in names}
    shown = ", ".join(f"{name} {n}" for name, n in counts.items())
    available = all(counts.values())
    if not available:
        missing = " and ".join(name for name, n in counts.items() if not n)
        why = f"{missing} had no calls assigned by a split (weighted or sticky route) in the period"
    elif min(counts.values()) >= MIN_SPLIT_CALLS:
        why = f"both desks have at least {MIN_SPLIT_CALLS} calls assigned by a split ({shown})"
    else:
        why = f"calls assigned by a split: {shown} (fewer than {MIN_SPLIT_CALLS} at a desk: wide intervals)"
    mix = _split_mix(cells, names, segment)
    mixes_differ = available and mix.df > 0 and mix.p_value < CASE_MIX_ALPHA
    if mixes_differ:
        why += (
            "; but the desks' split calls spread differently over segments (chi-square "
            f"{mix.statistic:.1f}, df {mix.df}, p {_p_text(mix.p_value)}): the splits pooled are not alike "
            "(different weights per segment, or a split shared with a third desk), so compare per segment "
            "(segment=)"
        )
    return {"available": available, "calls": counts, "mixes_differ": mixes_differ, "why": why}


def _adjusted(weights: dict[str, float], left_out: list[dict[str, Any]]) -> dict[str, Any]:
    segments = sorted(weights)
    if not segments:
        why = "the desks served no segment in common, so there is no common case mix"
    else:
        why = f"standardised to the desks' combined mix over {len(segments)} common segment(s)"
        if left_out:
            why += f"; left out (one desk only, or under {MIN_SEGMENT_CALLS} calls at a desk): " + ", ".join(
                f"{item['segment']} ({item['desk']}, {item['calls']} calls)" for item in left_out
            )
    return {"available": bool(segments), "segments": segments, "left_out": left_out, "why": why}


def choose(cells: Cells, names: tuple[str, str], asked: str | None, segment: str | None) -> Choice:
    """The mode asked for, else the default rule: randomised when both desks have at least 30 split calls,
    else adjusted when they share a segment (and there is a mix: two segments or more), else raw.

    ValueError names an unknown or unavailable mode, or a segment neither desk served.
    """
    if asked is not None and asked not in MODES:
        raise ValueError(f"mode: {asked!r} is not a comparison mode (choose one of: {', '.join(MODES)})")
    check_segment(cells, names, segment)
    weights, left_out = common_segments(cells, names, segment)
    modes = {
        "randomised": _randomised(cells, names, segment),
        "adjusted": _adjusted(weights, left_out),
        "raw": {"available": True, "why": "every call of each desk as it came; the desks' "
                "case mixes may differ"},
    }  # fmt: skip
    if asked is not None:
        if not modes[asked]["available"]:
            choices = ", ".join(mode for mode in MODES if modes[mode]["available"])
            raise ValueError(
                f"mode: {asked} is not available: {modes[asked]['why']} (choose one of: {choices})"
            )
        mode, reason = asked, f"asked for (mode={asked}): {modes[asked]['why']}"
    elif min(modes["randomised"]["calls"].values()) >= MIN_SPLIT_CALLS:
        mode, reason = "randomised", modes["randomised"]["why"]
    elif modes["adjusted"]["available"] and len(weights) + len(left_out) > 1:
        mode = "adjusted"
        reason = f"{modes['randomised']['why']}; so {modes['adjusted']['why']}"
    elif modes["adjusted"]["available"]:  # standardising over one segment would change no rate or mean
        mode = "raw"
        only = next(iter(weights))
        reason = (f"{modes['randomised']['why']}; both desks' calls are all in one segment ({only}), so "
                  "the raw figures are already like for like on segment")  # fmt: skip
    else:
        mode, reason = "raw", f"{modes['randomised']['why']}; {modes['adjusted']['why']}"
    common = frozenset(weights) if mode == "adjusted" else None  # left-out segments are in no figure
    selection = Selection(segment=segment, split_only=mode == "randomised", segments=common)
    return Choice(mode, reason, modes, selection, weights)


def case_mix(
    cells: Cells, names: tuple[str, str], segment: str | None, modes: dict[str, Any]
) -> dict[str, Any]:
    """Pearson's chi-square test of homogeneity on the segment x desk table of offered calls, in words."""
    offered = [segments_served(cells, name) for name in names]
    if segment is not None:
        offered = [{s: n for s, n in mine.items() if s == segment} for mine in offered]
    table = {
        s: (offered[0].get(s, 0), offered[1].get(s, 0)) for s in sorted(set(offered[0]) | set(offered[1]))
    }
    test = chi_square_homogeneity(table)
    differs = test.df > 0 and test.p_value < CASE_MIX_ALPHA
    found = {
        "statistic": test.statistic,
        "df": test.df,
        "p_value": test.p_value,
        "min_expected": test.min_expected,
        "differs": differs,
    }
    rough = " (rough: an expected count is under 5)" if test.df and test.min_expected < ROUGH_EXPECTED else ""
    if test.df == 0:
        message = "one segment (or a desk without calls): no case mix to compare"
    elif differs:
        others = [mode for mode in ("randomised", "adjusted") if modes[mode]["available"]]
        pointer = (
            "; for like-for-like verdicts see " + " or ".join(f"mode={mode}" for mode in others)
            if others
            else "; neither a randomised nor an adjusted comparison is possible for this period"
        )
        message = (
            "The two desks take different work: their segment mixes differ (chi-square "
            f"{test.statistic:.1f}, df {test.df}, p {_p_text(test.p_value)}){rough}. Raw figures compare "
            f"case mixes, not desks{pointer}."
        )
    else:
        message = (
            f"The desks' segment mixes do not differ significantly at 5% (chi-square {test.statistic:.1f}, "
            f"df {test.df}, p {_p_text(test.p_value)}){rough}."
        )
    return found | {"message": message}


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def definitions() -> dict[str, str]:
    """The comparison modes, standardisation, the intervals, the case-mix test and power, in words."""
    return {
        "modes_source": "Rothman, Greenland & Lash, Modern Epidemiology (standardisation); Fleiss, "
        "Statistical Methods for Rates and Proportions (chi-square homogeneity, power); docs/metrics.md "
        "'Comparison modes'",
        "mode": f"randomised when both desks have at least {MIN_SPLIT_CALLS} calls assigned by a split in "
        "the period (and the segment asked for), else adjusted when they share a segment, else raw; mode= "
        "chooses one (an unavailable one is an error naming the available ones)",
        "randomised": "only caller calls whose desk a weighted or sticky split chose (assignment 'split'): a "
        "randomised experiment, like for like by design. Intention to treat: a split call that the chosen "
        "desk's overflow sent on counts at the chosen desk (overflow_from) as offered and overflowed, never "
        "at the desk that took it. Figures and intervals as in raw, over these calls; breakdowns and wait "
        "percentiles too; costs are not shown (agent hours and a desk's cost belong to no arm: see "
        "equal_service). Limits: a split counts when its weights give two or more desks a share, not "
        "necessarily these two (a split between one of them and a third desk counts too); a route after the "
        "split that re-routes the call (overflow or failover routing on congestion, say) makes it directed, "
        "so such calls drop out of the arm; a sticky split randomises callers while the rows are calls, so a "
        "caller's repeat calls are not independent and the intervals are somewhat too narrow. When the two "
        "desks' split calls spread differently over segments (chi-square at 5%, modes.randomised."
        "mixes_differ), the splits pooled are not alike and the reason says so: compare per segment "
        "(segment=)",
        "adjusted": "every call, each desk's rates and means directly standardised to one case mix: over the "
        "segments both desks served, weight w_s = the two desks' combined offered calls in s / those of all "
        "common segments; adjusted figure = sum of w_s x the desk's figure in s (Rothman, Greenland & Lash, "
        "Modern Epidemiology, standardisation; Fleiss, Statistical Methods for Rates and Proportions). "
        f"Segments only one desk served, or where a desk has under {MIN_SEGMENT_CALLS} offered calls, are "
        "left out and listed (modes.adjusted.left_out). Counts are the "
        "calls of the common segments; wait percentiles and costs are not standardised (null: see raw and "
        "equal_service); breakdowns (hours, days, menu paths) and equal_service cover the calls of the "
        "common segments only, as they came (not standardised)",
        "raw": "every call of each desk as it came (within the segment asked for), whatever work each desk "
        "was given; equal_service too",
        "stratified_intervals": "adjusted mode: variance of a standardised rate = sum of w_s^2 p_s (1 - p_s) "
        "/ (n_s + 2), p_s = (x_s + 1) / (n_s + 2) (Agresti & Caffo 2000; not the plain r_s (1 - r_s) / "
        "n_s, which is 0 for a segment at 0% or 100% and made the interval too narrow), of a standardised "
        "mean = sum of w_s^2 s_s^2 / n_s (s_s^2 the sample variance); the desks are independent, so the "
        "difference has the sum of both variances and its 95% interval is difference +/- 1.96 sqrt(sum); "
        "undefined (null) when a common segment has no calls in the figure's denominator at a desk (a mean: "
        "under 2)",
        "case_mix": "Pearson's chi-square test of homogeneity on the segment x desk table of offered calls "
        "(df = segments - 1); the mixes differ when p < 0.05, and the raw view then says so. min_expected "
        "is the least expected count: under 5 the test is rough (Cochran) and the message says so",
        "power": "on each rate or mean row that is not significant: the calls per desk a two-sided test at "
        "5% needs for 80% power to detect the observed difference (or the one asked for with "
        "detect=metric:size): rates n = (z_0.975 sqrt(2 p q) + z_0.8 sqrt(p1 q1 + p2 q2))^2 / (p1 - p2)^2 "
        "with p1, p2 the difference apart around the desks' mean rate; means n = 2 (z_0.975 + z_0.8)^2 "
        "sd^2 / delta^2, sd pooled over both desks (Fleiss, Statistical Methods for Rates and "
        "Proportions). more_per_desk = n - the calls the desk with fewer has in the figure's denominator; "
        "days = how many days with calls the desks take to log them: each desk's calls in the figure over "
        "the days on which it had calls (counted in its own time zone, so the report's zone changes "
        "nothing), the longer of the two. In the adjusted mode n is that of an unstratified test, an "
        "approximation",
        "segments": "per segment (COALESCE(calls.segment, '(none)')), every call of it at each desk (both "
        "arms): the figures that can be summed, repeats, and the rates and means compared as in raw",
    }
