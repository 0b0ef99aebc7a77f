"""The claims of claims.toml judged by kind: one arm against a number (value, threshold),
two arms against each other (greater, equivalent, non_inferior, paired when the seeds
are twins), the write-up against itself (internal), and the size a greater claim
implies.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..spec.schemas import (
    EquivalentClaim,
    GreaterClaim,
    InternalClaim,
    NonInferiorClaim,
    ThresholdClaim,
    ValueClaim,
    reported_str,
)
from ..stats import core as stats
from ..stats.expressions import evaluate
from ..stats.margins import RELATIVE, margin_for, resolution
from ..stats.propagate import Estimate, propagate
from ..stats.questions import (
    CONTRADICTED,
    INCONCLUSIVE,
    SUPPORTED,
    against_arm,
    combined,
    difference_against,
    difference_against_runs,
    margin_question,
    one_sided_question,
)
from .aggregate import Selection, is_constant
from .verdict import NOT_TESTABLE, Need, Verdict, about, fmt
from .words import (
    _ON_MARGIN,
    _compare,
    _interval,
    _metric_name,
    _no_seeds,
    _not_run,
    _w,
    _word_directional,
    _word_margin,
    describe,
    margin_way,
    undecidable_text,
)


class ClaimJudging:
    """Mixed into Judge (engine.py): uses its readings and selections."""

    def claims_verdicts(self) -> list[Verdict]:
        return [self._reading(functools.partial(self._claim, i, c))
                for i, c in enumerate(self.claims.claim)]

    def size_verdicts(self) -> list[tuple[GreaterClaim, Verdict]]:
        """For each ``greater`` claim whose arms the write-up's tables report, whether the
        reproduced difference matches the write-up's own difference within the margin
        rule: a claim that implies a size can be contradicted on its size. Each is
        returned with its claim (for scale.apply); they form their own Holm family."""
        out = []
        for i, c in enumerate(self.claims.claim):
            if not isinstance(c, GreaterClaim) or self._reported_arms(c) is None:
                continue
            v = self._reading(functools.partial(self._size, i, c))
            if v is not None:
                out.append((c, v))
        return out

    def _size(self, i: int, c: GreaterClaim) -> Verdict | None:
        rep_a, n_a, rep_b, n_b = self._reported_arms(c)
        key = f"claim[{i}]"
        a = self.select(c.a, c.metric, c.index, key + ".a")
        b_index = c.index_b if c.index_b is not None else c.index
        b = self.select(c.b, c.metric, b_index, key + ".b")
        if a.n < 2 or b.n < 2 or (self.deterministic(c.metric) and is_constant(a.values)
                                  and is_constant(b.values)):
            return None  # the claim's own verdict says why nothing is tested
        claimed = rep_a.mean - rep_b.mean
        label_a = _w(c.a)
        label_b = _w(c.b) if c.index_b is None else f"{_w(c.b)} [{c.index_b}]"
        v = Verdict(f"{c.id}/size", "size", f"{c.quote} (its size: the write-up's "
                    f"{label_a} − {label_b} = {fmt(claimed, '+.4g')})", INCONCLUSIVE, "",
                    c.section)
        pairs = self.paired(a, b, c.metric)
        data, other = (pairs[0], None) if pairs is not None and len(pairs[0]) >= 2 \
            else (a.values, b.values)
        flat = is_constant(data) if other is None else \
            is_constant(a.values) and is_constant(b.values)
        if flat and not self.deterministic(c.metric):
            return None  # zero spread: the claim's own verdict says why there is no test
        margin = max(RELATIVE * abs(claimed), resolution(rep_a.text) + resolution(rep_b.text))
        if rep_a.spread is not None and rep_b.spread is not None and n_a and n_b \
                and n_a >= 2 and n_b >= 2:
            se_w, df_w = combined([(rep_a.sd(n_a) ** 2 / n_a, n_a - 1),
                                   (rep_b.sd(n_b) ** 2 / n_b, n_b - 1)])
            whose = f"its reported spreads (n={n_a} and {n_b})"
            imputed = False
            test = difference_against(other, se_w, df_w)
        else:  # a spread or a run count not printed for both arms: the runs' spread is
            # taken as ours, as for a table cell; paired where ours pair (the same contrast
            # from the same design), each variance estimate entering the test once
            runs = min(n_a or 1, n_b or 1)
            printed = ("without a spread" if rep_a.spread is None and rep_b.spread is None
                       else "without both spreads and run counts printed")
            if other is None:
                se_w = math.sqrt(float(np.var(data, ddof=1)) / runs)
                whose = (f"{runs} run{'s' if runs > 1 else ''} per arm {printed}, paired as "
                         "ours are: the spread of our paired differences taken as theirs")
            else:
                se_w = math.sqrt((float(np.var(a.values, ddof=1))
                                  + float(np.var(b.values, ddof=1))) / runs)
                whose = (f"{runs} run{'s' if runs > 1 else ''} per arm {printed}, whose "
                         "spread is taken as ours")
            imputed, df_w = True, None
            test = difference_against_runs(other, runs)
        answer = margin_question(data, claimed, margin, self.alpha, test)
        ours = float(np.mean(data)) if other is None else \
            float(np.mean(a.values) - np.mean(b.values))
        bounds = self.bounds(c.metric)  # ours and the write-up's each in [lo - hi, hi - lo]
        span = None if bounds is None else (2 * (bounds[0] - bounds[1]),
                                            2 * (bounds[1] - bounds[0]))

        def interval_at(level: float) -> tuple[float, float]:
            return stats.within(*_interval(test, data, claimed, level), span)

        ivs = {level: interval_at(level) for level in (self.level, 1 - self.alpha)}
        v.interval_at = interval_at
        low, high = ivs[self.level]
        v.evidence = {"effect": ours - claimed, "margin": margin, "intervals": ivs,
                      "compared": f"ours {fmt(ours, '+.4g')} vs {fmt(claimed, '+.4g')}"}
        base = (f"{_metric_name(c.metric, c.index)}: reproduced {label_a} − {label_b} = "
                f"{fmt(ours, '+.4g')} ({'paired by seed' if other is None else 'Welch'}) vs "
                f"the write-up's {fmt(claimed, '+.4g')} ± {fmt(se_w, '.3g')} (SE, from "
                f"{whose}): difference {fmt(ours - claimed, '+.4g')}, "
                f"{100 * self.level:.3g} % CI [{fmt(low)}, {fmt(high)}]")
        # our seeds' spread of the difference: of the pairs, or of both arms (per side)
        sd_ours = float(np.std(data, ddof=1)) if other is None else math.sqrt(
            float(np.var(a.values, ddof=1)) + float(np.var(b.values, ddof=1)))
        unit = "pairs of seeds" if other is None else "seeds per side"

        def need(level: float) -> tuple[int | None, str]:
            gap = ours - claimed
            if abs(gap) == margin:
                return None, _ON_MARGIN
            got = stats.seeds_to_settle_margin(gap, sd_ours, margin, level, se_w**2, df_w)
            if got.never:
                v.evidence["undecidable"] = "imputed" if imputed else "reported"
                return None, undecidable_text(imputed, fmt(abs(abs(gap) - margin), ".3g"))
            way = margin_way(gap, margin)
            return got.n, (f"If the observed difference is the true one, {about(got.n)} "
                           f"{unit} would settle it, {way} (the write-up's runs stay as they "
                           "are)")

        return _word_margin(v, base, answer, margin,
                            "5 % of the write-up's difference, or the printing's half units "
                            "of both its numbers if larger", need)

    def _claim(self, i: int, c) -> Verdict:
        v = Verdict(c.id, c.kind, c.quote, NOT_TESTABLE, getattr(c, "reason", ""), c.section)
        if c.kind == "not_testable":
            return v
        if c.kind == "internal":
            return self._internal(c, v)
        # the write-up's own numbers are checked whatever this tier runs
        if isinstance(c, ThresholdClaim):
            self._writeup_threshold(c, v)
        elif isinstance(c, GreaterClaim):
            self._writeup_greater(c, v)
        elif isinstance(c, NonInferiorClaim):
            self._writeup_non_inferior(c, v)
        key = f"claim[{i}]"
        a = self.select(c.a, c.metric, c.index, key + ".a")
        if a.config is None:
            return _not_run(v, c.a)
        if isinstance(c, ValueClaim):
            return self._value_claim(c, a)
        if isinstance(c, ThresholdClaim):
            return self._directional(v, c.metric, c.index, a, c.value, c.op, f"{c.op} {c.value:g}")
        b_index = c.index_b if c.index_b is not None else c.index
        b = self.select(c.b, c.metric, b_index, key + ".b")
        if b.config is None:
            return _not_run(v, c.b)
        return self._two_arms(c, v, a, b)

    def _value_claim(self, c: ValueClaim, a: Selection) -> Verdict:
        rep = stats.Reported(c.value, None, "sd", False, reported_str(c.value))
        margin, why = margin_for(rep, c.margin, c.margin_reason, self.bounds(c.metric),
                                 target=c.of == "target")
        runs = c.reported_n or self.claims.source.reported_n
        out = self._value_verdict(c.id, c.quote, a, rep, runs, margin, why, ".4g",
                                  c.metric, target=c.of == "target")
        out.kind, out.section = c.kind, c.section
        return out

    def _internal(self, c: InternalClaim, v: Verdict) -> Verdict:
        if c.statistical:
            est = propagate(f"({c.left}) - ({c.right})", self.lookup_stats)
            if est.se > 0:
                return self._internal_test(c, v, est)
        left, cited_l = evaluate(c.left, self.lookup)
        right, cited_r = evaluate(c.right, self.lookup)
        holds = _compare(left, c.op, right, c.tol)
        tol = f" (tolerance {c.tol:g})" if c.tol else ""
        cites = "; ".join(dict.fromkeys(cited_l + cited_r))
        v.verdict = SUPPORTED if holds else CONTRADICTED
        v.reason = (f"From the write-up's own numbers ({cites}): {fmt(left)} {c.op} "
                    f"{fmt(right)}{tol} {'holds' if holds else 'does not hold'}.")
        v.evidence = {"left": left, "right": right}
        return v

    def _internal_test(self, c: InternalClaim, v: Verdict, est: Estimate) -> Verdict:
        """left - right as an estimate with the write-up's spreads propagated."""
        def test(_data: object, reference: float, alternative: str) -> stats.TestResult:
            return stats.estimate_test(est.value - reference, est.se, est.df, alternative)

        cites = "; ".join(dict.fromkeys(est.cited))
        base = (f"From the write-up's own numbers ({cites}): left - right = {fmt(est.value)} "
                f"± {fmt(est.se)} (SE, delta method, df {fmt(est.df, '.3g')})")
        if c.op == "==":
            answer = margin_question(None, 0.0, c.tol, self.alpha, test)
            return _word_margin(v, base, answer, c.tol, "the stated tolerance", None)
        direction = "above" if c.op in (">", ">=") else "below"
        answer = one_sided_question(None, 0.0, direction, self.alpha, test)
        return _word_directional(v, f"{base}; two-sided p = {fmt(answer.pvalue, '.2g')}", answer,
                                 None)

    def _two_arms(self, c: GreaterClaim | EquivalentClaim | NonInferiorClaim, v: Verdict,
                  a: Selection, b: Selection) -> Verdict:
        name = _metric_name(c.metric, c.index)
        label_a = _w(c.a)
        label_b = _w(c.b) if c.index_b is None else f"{_w(c.b)} [{c.index_b}]"
        if a.n < 1 or b.n < 1:
            return _no_seeds(v, a, b)
        da, db = describe(a.values), describe(b.values)
        sides = f"{name}: {label_a} {da} vs {label_b} {db}"
        if self.deterministic(c.metric) and is_constant(a.values) and is_constant(b.values):
            return self._exact_two_arms(c, v, name, label_a, label_b, a.values[0] - b.values[0])
        if a.n < 2 or b.n < 2:
            v.verdict = INCONCLUSIVE
            v.reason = f"{sides}; a test needs at least two seeds per side."
            return v
        pairs = self.paired(a, b, c.metric)
        if pairs is not None:
            diffs, seeds = pairs
            if len(diffs) < 2:
                v.verdict = INCONCLUSIVE
                v.reason = f"{sides}; fewer than two seeds are on both sides to pair."
                return v
            flat = None if self.deterministic(c.metric) or not is_constant(diffs) else \
                f"the {len(diffs)} paired differences are all {fmt(diffs[0])}; zero spread " \
                "gives no test"
            data, test = diffs, stats.one_sample
            design = (f"paired by seed over {len(diffs)} seeds (the same seed's "
                      f"{'cells' if a.config == b.config else 'twin cells'}): difference "
                      f"{describe(diffs)}")
            sd_d = float(np.std(diffs, ddof=1)) if not flat else math.nan
        else:
            # Welch needs one arm's spread: an arm whose seeds agree (0 % dead in every
            # seed) is tested against the other's; both flat give no test
            both_flat = is_constant(a.values) and is_constant(b.values)
            flat = self._no_spread(c.metric, [(f" of {label_a}", a), (f" of {label_b}", b)]) \
                if both_flat else None
            data, test = a.values, against_arm(b.values)
            gap = a.values.mean() - b.values.mean()
            design = f"independent arms (Welch): difference {fmt(gap)}"
            one_flat = [label for label, side in ((label_a, a), (label_b, b))
                        if side.n >= 2 and is_constant(side.values)]
            if one_flat and not both_flat and not self.deterministic(c.metric):
                design += (f" ({one_flat[0]}'s seeds all agree: the test rests on the "
                           "other arm's spread)")
            sd_d = math.nan
        if flat:
            v.verdict = INCONCLUSIVE
            v.reason = f"{sides}; {flat}."
            return v
        base = f"{sides}; {design}"
        need = self._need_two_arms(a, b, sd_d, pairs[0] if pairs is not None else None)
        v.evidence["effect"] = float(np.mean(data)) if pairs is not None else \
            float(np.mean(a.values) - np.mean(b.values))
        v.evidence["compared"] = (f"{label_a} {fmt(float(np.mean(a.values)))} vs {label_b} "
                                  f"{fmt(float(np.mean(b.values)))}")
        v.interval_at = functools.partial(self._diff_interval, a, b, pairs, metric=c.metric)
        v.evidence["intervals"] = {level: v.interval_at(level)
                                   for level in (self.level, 1 - self.alpha)}
        if isinstance(c, GreaterClaim):
            answer = one_sided_question(data, c.by, "above", self.alpha, test)
            by = f" by more than {c.by:g}" if c.by else ""
            return _word_directional(
                v, f"{base}; is {label_a} above {label_b}{by}? two-sided p = "
                   f"{fmt(answer.pvalue, '.2g')}", answer, need(c.by))
        margin, why = c.margin, c.margin_reason
        if isinstance(c, EquivalentClaim):
            answer = margin_question(data, 0.0, margin, self.alpha, test)
            low, high = self._diff_interval(a, b, pairs, self.level, c.metric)
            base += f", {100 * self.level:.3g} % CI [{fmt(low)}, {fmt(high)}]"
            v.evidence["margin"] = margin
            return _word_margin(v, base, answer, margin, why, need(None, margin, answer.diff))
        higher = self.higher_is_better(c.metric, c.higher_is_better)
        bound = -margin if higher else margin
        answer = one_sided_question(data, bound, "above" if higher else "below", self.alpha,
                                    test)
        worse = "below" if higher else "above"
        return _word_directional(
            v, f"{base}; is {label_a} no more than {margin:g} {worse} {label_b} (margin: {why})? "
               f"two-sided p = {fmt(answer.pvalue, '.2g')} against the bound {bound:+g}",
            answer, need(bound, direction="above" if higher else "below"))

    def _exact_two_arms(self, c, v: Verdict, name: str, label_a: str, label_b: str,
                        diff: float) -> Verdict:
        if isinstance(c, GreaterClaim):
            holds = diff > c.by
        elif isinstance(c, EquivalentClaim):
            holds = abs(diff) <= c.margin
        else:
            higher = self.higher_is_better(c.metric, c.higher_is_better)
            holds = diff >= -c.margin if higher else diff <= c.margin
        v.verdict = SUPPORTED if holds else CONTRADICTED
        v.reason = (f"{name} is the same in every seed: {label_a} minus {label_b} = "
                    f"{fmt(diff)}, so the claim {'holds' if holds else 'fails'} exactly.")
        v.evidence["deterministic"] = True
        return v

    def _diff_interval(self, a: Selection, b: Selection, pairs, level: float, metric: str
                       ) -> tuple[float, float]:
        """The ``level`` interval of a - b (paired where the seeds pair), cut to what a
        difference of two values within the metric's bounds can take."""
        if pairs is not None:
            d = pairs[0]
            s = stats.summarize(d, n_boot=0)
            low, high = stats.mean_ci(s.mean, s.sd, s.n, level)
        else:
            sa, sb = stats.summarize(a.values, n_boot=0), stats.summarize(b.values, n_boot=0)
            low, high = stats.diff_ci(sa.mean, sa.sd, sa.n, sb.mean, sb.sd, sb.n, level)
        bounds = self.bounds(metric)
        if bounds is None:
            return low, high
        return stats.within(low, high, (bounds[0] - bounds[1], bounds[1] - bounds[0]))

    def _need_two_arms(self, a: Selection, b: Selection, sd_d: float,
                       pair_diffs: np.ndarray | None):
        """need(reference) for a directional question, need(None, margin, diff) for a margin
        question: the seeds (pairs, where ``pair_diffs`` holds the per-seed differences)
        that would settle it, as a function of the level."""
        paired = pair_diffs is not None
        sa, sb = stats.summarize(a.values, n_boot=0), stats.summarize(b.values, n_boot=0)
        # paired: the mean of the pairs, which the test reads (a seed missing on one side
        # is left out of both)
        diff = float(np.mean(pair_diffs)) if paired else sa.mean - sb.mean

        def make(reference: float | None, margin: float | None = None,
                 observed: float | None = None, direction: str = "above") -> Need:
            def need(level: float) -> tuple[int | None, str]:
                unit = "pairs of seeds" if paired else "seeds per side"
                if margin is not None:
                    d = observed if observed is not None else diff
                    if abs(d) == margin:
                        return None, _ON_MARGIN
                    n = (stats.seeds_to_settle_margin(d, sd_d, margin, level).n if paired
                         else stats.seeds_to_settle_equivalence(d, sa.sd, sb.sd, margin, level))
                    way = margin_way(d, margin)
                else:
                    effect = diff - reference
                    if effect == 0 or not math.isfinite(effect):
                        return None, ("The estimate sits on the bound: no number of seeds "
                                      "settles it")
                    n = (stats.seeds_to_detect(effect / sd_d, level, alternative="two-sided",
                                               one_sample=True) if paired else
                         stats.seeds_to_detect(stats.hedges_g_from_stats(
                             sa.mean - reference, sa.sd, sa.n, sb.mean, sb.sd, sb.n), level,
                             alternative="two-sided"))
                    way = _toward(effect, direction)
                return n, f"If the observed difference is the true one, {about(n)} {unit} " \
                          f"would settle it, {way}"
            return need
        return make

    def _directional(self, v: Verdict, metric: str, index: int | None, a: Selection,
                     reference: float, op: str, against: str) -> Verdict:
        """Is the mean of a's seeds on the ``op`` side of ``reference``? One question for
        thresholds and chance (questions.one_sided_question)."""
        name = _metric_name(metric, index)
        if a.n < 1:
            return _no_seeds(v, a, a)
        direction = "above" if op in (">", ">=") else "below"
        if self.per_seed(metric) != "measurement":
            return self._k_of_n(v, name, np.asarray(a.values),
                                lambda x: _compare(x, op, reference, 0.0), f"meet {against}")
        mean = float(np.mean(a.values))
        holds = _compare(mean, op, reference, 0.0)
        word = "meets" if holds else "misses"
        if a.n < 2:
            v.verdict = INCONCLUSIVE
            v.reason = (f"{name} = {fmt(mean)} from one seed ({word} {against}); one seed "
                        "gives no test.")
            return v
        if self.deterministic(metric) and is_constant(a.values):
            v.verdict = SUPPORTED if holds else CONTRADICTED
            v.reason = f"{name} = {fmt(mean)} in every seed, which {word} {against}."
            v.evidence["deterministic"] = True
            return v
        flat = self._no_spread(metric, [("", a)])
        if flat:
            v.verdict, v.reason = INCONCLUSIVE, f"{name} against {against}: {flat}."
            return v
        answer = one_sided_question(a.values, reference, direction, self.alpha)
        sd = float(np.std(a.values, ddof=1))

        def need(level: float) -> tuple[int | None, str]:
            if answer.diff == 0:
                return None, "The mean sits on the line: no number of seeds settles it"
            n = stats.seeds_to_detect(answer.diff / sd, level, alternative="two-sided",
                                      one_sample=True)
            return n, (f"If the observed mean is the true one, {about(n)} seeds would settle "
                       f"it, {_toward(answer.diff, direction)}")

        base = (f"{name} = {describe(a.values)} against {against}: two-sided t-test "
                f"p = {fmt(answer.pvalue, '.2g')}")
        s = stats.summarize(a.values, n_boot=0)

        def interval_at(level: float) -> tuple[float, float]:
            """Of mean - reference; the reference is exact."""
            low, high = stats.mean_ci(s.mean, s.sd, s.n, level)
            return stats.within(low - reference, high - reference, self.bounds(metric),
                                reference)

        v.interval_at = interval_at
        v.evidence = {"diff": answer.diff, "effect": mean - reference,
                      "compared": f"{fmt(mean)} vs {against}",
                      "intervals": {1 - self.alpha: interval_at(1 - self.alpha)}}
        return _word_directional(v, base, answer, need)


def _toward(effect: float, direction: str) -> str:
    """Which way the seeds a directional question needs would decide it, if the observed
    effect is the truth: the claimed side, or the opposite."""
    return ("for the claim" if (effect > 0) == (direction == "above") else
            "against the claim")
