"""Grammar-constrained sampling: a ``transformers`` logits processor driven by
:class:`llm_mutator.grammar.RuleChecker`.

Sampling (:class:`RuleLogitsProcessor`, a ``transformers`` logits processor that runs before
temperature and top-p): per sequence and step, the processor draws the next token itself from
the model's distribution (temperature, then the nucleus of ``coverage`` mass) *without
replacement* and checks the draws in order; the first one the checker accepts is the only
token left unmasked, so the model's own sampler takes it.  Drawing without replacement until a
draw is valid is exact sampling from the nucleus restricted to the valid tokens,
and it costs about one check per generated token (a valid token is the likely case) — checking
every likely token until they cover the nucleus, as an earlier version did, cost tens of
checks per token for a model that is not sure of itself, each check a re-parse of the line.
Near the end of a sequence's token budget, :meth:`RuleChecker.closing` searches a short text
that completes the line (closing brackets, an ``else`` for an open conditional, ``for``
clauses for pending names, ...) and returns on every path; once its token cost comes close to
what is left, the sequence follows it and ends.  In the few steps before that, a drawn token
is kept only if closing after it still fits what is left (a token can make closing much
dearer: the start of a long name, another generator).
"""

from __future__ import annotations

from .grammar import CheckerState, RuleChecker

__all__ = ["RuleLogitsProcessor", "TokenVocabulary"]

NUCLEUS_TOP = 256    # tokens sorted first when drawing: enough for the nucleus of a sure model


class TokenVocabulary:
    """The text each token id adds to a sequence (None: a special token, or one that does not
    decode to text on its own), and the end-of-sequence ids."""

    def __init__(self, tokenizer):
        # decode after an anchor token, so that tokenizers which drop a leading space when a
        # token stands alone (sentencepiece) still give the space
        anchor = tokenizer.encode("x", add_special_tokens=False)[:1]
        head = tokenizer.decode(anchor)
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        size = len(tokenizer)
        decoded = tokenizer.batch_decode([anchor + [i] for i in range(size)])
        self.texts: list[str | None] = []
        for i, text in enumerate(decoded):
            ok = i not in special and text.startswith(head) and len(text) > len(head) \
                and "\ufffd" not in text
            self.texts.append(text[len(head):] if ok else None)
        eos = tokenizer.eos_token_id
        self.eos_ids = {eos} if eos is not None else set()
        self.size = size
        self.by_text: dict[str, int] = {}
        for i, text in enumerate(self.texts):
            if text is not None:
                self.by_text.setdefault(text, i)
        self.longest = max((len(t) for t in self.by_text), default=1)

    def count(self, text: str) -> int:
        """Tokens that writing ``text`` greedily (longest token first) takes."""
        count, k = 0, 0
        while k < len(text):
            token = self.longest_prefix(text[k:])
            if token is None:
                return len(text) + 1
            k += len(self.texts[token])
            count += 1
        return count

    def longest_prefix(self, text: str):
        """The token whose text is the longest prefix of ``text`` (None if none is)."""
        for length in range(min(len(text), self.longest), 0, -1):
            token = self.by_text.get(text[:length])
            if token is not None:
                return token
        return None


class RuleLogitsProcessor:
    """Masks every token after which a row's completion could no longer become a rule (module
    docstring).  ``starts[r]``: the completion text row r begins with ("" for a fresh body), or
    None for a row left unconstrained.  ``budgets[r]``: the row's token budget; when what is
    left of it comes close to what closing the function would take
    (:meth:`RuleChecker.closing`), the row is closed along that text, token by token, and
    ended — a rule cut by the budget would be lost."""

    def __init__(self, vocabulary: TokenVocabulary, starts, prompt_length: int,
                 temperature: float = 1.0, budgets=None, coverage: float = 0.95,
                 max_checks: int = 64, close_margin: int = 2, close_window: int = 48,
                 lookahead: int = 12):
        self.vocabulary, self.prompt_length = vocabulary, int(prompt_length)
        self.temperature, self.coverage = float(temperature), float(coverage)
        self.max_checks, self.close_margin = int(max_checks), int(close_margin)
        self.close_window = int(close_window)
        self.lookahead = int(lookahead)   # steps before closing is due that check each token
        self.budgets = list(budgets) if budgets is not None else None
        self.checker = RuleChecker()
        self.states = [None if s is None else self.checker.start(s) for s in starts]
        self.seen: list[dict] = [{} for _ in starts]   # token -> state, from the last step
        self.plans: list[str | None] = [None] * len(starts)   # closing text still to write
        self.retry_at = [None] * len(starts)   # budget left when closing is tried again
        self.deferred = [None] * len(starts)   # cost of the last closing found, not yet due
        # (text, closing of that text): the last closing found, a hint for the next
        self.hints = [None] * len(starts)
        self.checks = 0          # candidate tokens checked (benchmarks read it)
        self.released = 0        # rows left unconstrained: no likely token was valid
        self.closed = 0          # rows closed because their budget ran short

    def _advance(self, input_ids) -> None:
        if input_ids.shape[1] <= self.prompt_length:
            return
        for r, token in enumerate(input_ids[:, -1].tolist()):
            self._advance_row(r, token)

    def _advance_row(self, r: int, token: int) -> None:
        """Row ``r`` wrote ``token``: its state follows (the one its check found, if any)."""
        state = self.states[r]
        if state is None or state.ended:
            return
        new = self.seen[r].get(token, False)
        text = self._text(token)
        if new is False:
            new = None if text is None else self.checker.feed(state, text)
        plan = self.plans[r]
        if plan and text is not None and plan.startswith(text):
            self.plans[r] = plan[len(text):]
        closes, ahead = self.hints[r] or (None, None)
        if closes == state.text and ahead and new is not None and text is not None \
                and ahead.startswith(text):
            # the model wrote the start of the closing of the state it continued: the
            # rest closes the new state, no search needed
            self.checker.remember(new, ahead[len(text):])
            self.hints[r] = (new.text, ahead[len(text):])
        self.states[r] = new
        self.seen[r] = {}

    def _text(self, token):
        return self.vocabulary.texts[token] if 0 <= token < self.vocabulary.size else None

    def _allowed(self, r, token, state) -> bool:
        if token in self.vocabulary.eos_ids:
            return self.checker.can_end(state)
        text = self._text(token)
        if text is None:
            return False
        new = self.checker.feed(state, text)
        self.seen[r][token] = new
        return new is not None

    def _choose(self, r, state, probs, ids, enough: int | None = None) -> list:
        """Valid tokens among ``ids`` (likeliest first), until they cover ``coverage`` of the
        mass or ``enough`` were found: the fallback when no draw was valid."""
        mass, allowed = 0.0, []
        for p, token in zip(probs, ids):
            self.checks += 1
            if self._allowed(r, token, state):
                allowed.append(token)
                if enough is not None and len(allowed) >= enough:
                    break
            mass += p
            if allowed and mass >= self.coverage:
                break
        return allowed

    def _draw(self, r, state, draws, left) -> list:
        """The first of ``draws`` (the model's samples without replacement) that the checker
        accepts — and, with ``left`` tokens of budget (None: not near the end), after which
        the function can still be closed in time; if none of the first eight valid draws
        leaves room to close, the one after which closing is cheapest."""
        cheapest, checked = None, 0
        for token in draws:
            self.checks += 1
            if not self._allowed(r, token, state):
                continue
            if left is None or token in self.vocabulary.eos_ids:
                return [token]
            new = self.seen[r][token]
            plan = "" if new.ended else self.checker.closing(new, budget=300,
                                                              hint=self._hint(r))
            cost = None if plan is None else self.vocabulary.count(plan)
            if cost is not None and cost + self.close_margin <= left:
                if plan:
                    self.hints[r] = (new.text, plan)
                return [token]
            if cheapest is None or (cost is not None and (cheapest[0] is None
                                                          or cost < cheapest[0])):
                cheapest = (cost, token)
            checked += 1
            if checked >= 8:
                break
        return [] if cheapest is None else [cheapest[1]]

    def _closing(self, r, state, left: int):
        """The token that follows the row's closing text once its budget runs short (None
        while it need not close, or cannot)."""
        if self.plans[r] is None:
            if left > max(self.close_window, self._estimate(state)) or (
                    self.retry_at[r] is not None and left > self.retry_at[r]):
                return None
            plan = self.checker.closing(state, hint=self._hint(r))
            if plan:
                self.hints[r] = (state.text, plan)
            if plan is None:
                self.retry_at[r] = left - 4   # the line may close more easily a bit later
                return None
            cost = self.vocabulary.count(plan)
            if left - cost > self.close_margin + cost:
                # not yet (the rest of the line may make closing dearer): look again soon
                self.retry_at[r], self.deferred[r] = left - 1, cost
                return None
            self.plans[r] = plan
            self.closed += 1
        plan = self.plans[r]
        if plan == "":
            eos = sorted(self.vocabulary.eos_ids)
            return eos[0] if eos and self.checker.can_end(state) else None
        token = self.vocabulary.longest_prefix(plan)
        if token is None or not self._allowed(r, token, state):
            self.plans[r], self.retry_at[r] = None, left - 4
            return None
        return token

    def _hint(self, r):
        return self.hints[r][1] if self.hints[r] else None

    def _estimate(self, state) -> int:
        """Tokens that closing the function may take, roughly (:func:`_closing_estimate`),
        plus twice a ``for`` clause for each name the line's generators wait to see bound (a
        model's own names may take many tokens: closing is then planned early enough to be
        put off while its cost is under half what is left)."""
        binders = sum(self.vocabulary.count(f" for {name} in seed.a")
                      for name in self.checker.unbound(state))
        return _closing_estimate(state) + 2 * binders

    def __call__(self, input_ids, scores):
        import torch
        self._advance(input_ids)
        rows = [r for r, s in enumerate(self.states) if s is not None and not s.ended]
        if not rows:
            return scores
        step = input_ids.shape[1] - self.prompt_length
        vocab = scores.shape[1]
        logp = torch.log_softmax(scores[rows].float() / self.temperature, dim=-1)
        k = min(self.max_checks, vocab)
        draws = self._nucleus_draws(logp, k)
        # one mask, filled on the CPU and applied in one go (a GPU sees three operations per
        # step, not three per row)
        free = [r for r in range(scores.shape[0]) if r not in set(rows)]
        keep_rows, keep_cols = [], []
        for j, r in enumerate(rows):
            state = self.states[r]
            forced = None
            if self.budgets is not None:
                forced = self._closing(r, state, self.budgets[r] - step)
            if forced is not None:
                allowed = [forced]
            else:
                left = None
                if self.budgets is not None and self.deferred[r] is not None:
                    left = self.budgets[r] - step - 1
                    if left > 2 * self.deferred[r] + self.close_margin + self.lookahead:
                        left = None
                allowed = self._draw(r, state, draws[j], left)
            if not allowed:
                # no draw was valid: the likeliest valid tokens further down, once
                wide_p, wide_ids = torch.topk(logp[j], min(vocab, 16 * k))
                allowed = self._choose(r, state, wide_p.exp().tolist(), wide_ids.tolist(),
                                       enough=8)
            if not allowed:
                allowed = [t for t in self.vocabulary.eos_ids if self.checker.can_end(state)]
            if not allowed:
                # leave this row to the model (the validator will reject it) rather than
                # sample from an empty set
                self.states[r] = None
                self.released += 1
                free.append(r)
                continue
            keep_rows.extend([r] * len(allowed))
            keep_cols.extend(allowed)
        mask = torch.zeros(scores.shape, dtype=torch.bool)
        mask[free] = True
        mask[keep_rows, keep_cols] = True
        return scores.masked_fill(~mask.to(scores.device), float("-inf"))

    def _nucleus_draws(self, logp, k: int) -> list:
        """Per row, up to ``k`` tokens drawn without replacement from the nucleus (the
        likeliest tokens holding ``coverage`` of the mass) of ``exp(logp)``, in draw order.

        All rows at once, by an exponential race: each token of weight p gets the key E / p
        with E ~ Exp(1), and the tokens in increasing key order are distributed as successive
        draws without replacement in proportion to p.  One sort, one top-k and one transfer
        per step for the whole batch (a draw per row was a device round trip per row)."""
        import torch
        probs = logp.exp()
        # the likeliest tokens first: a top-k where it holds a row's nucleus (a sure model),
        # else a sort of the whole vocabulary for the rows it does not
        ordered, order = torch.topk(probs, min(probs.shape[-1], max(4 * k, NUCLEUS_TOP)),
                                    dim=-1)
        wide = (ordered.sum(dim=-1) < self.coverage).nonzero().flatten().tolist()
        out = self._race(ordered, order, k)
        if wide:
            rows = torch.tensor(wide, device=probs.device)
            for r, draws in zip(wide, self._race(*torch.sort(probs[rows], dim=-1,
                                                             descending=True), k)):
                out[r] = draws
        return out

    def _race(self, ordered, order, k: int) -> list:
        """The draws of :meth:`_nucleus_draws` from rows of probabilities sorted in
        decreasing order (``order``: their tokens)."""
        import torch
        # a token stays in the nucleus when the mass before it is under ``coverage``
        outside = (ordered.cumsum(dim=-1) - ordered) >= self.coverage
        ordered = ordered.masked_fill(outside, 0.0)
        keys = torch.empty_like(ordered).exponential_() / ordered   # inf outside the nucleus
        first = torch.topk(keys, min(k, keys.shape[-1]), dim=-1, largest=False)
        tokens = order.gather(-1, first.indices).tolist()
        inside = torch.isfinite(first.values).tolist()
        return [[t for t, ok in zip(row, oks) if ok] for row, oks in zip(tokens, inside)]


def _closing_estimate(state: CheckerState) -> int:
    """Tokens that closing the function may take, roughly (brackets of the current line, open
    blocks, a final return): from this close to the budget, closing is planned."""
    depth = state.line.count("(") + state.line.count("[") - state.line.count(")") \
        - state.line.count("]")
    blocks = len(state.frames) - 1 + (state.expect_block is not None)
    return 6 * max(depth, 0) + 8 * blocks + 16
