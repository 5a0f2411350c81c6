"""A deliberately naive, dictionary-based interpolated Kneser-Ney: the oracle for the fast model."""

from collections import Counter
from functools import lru_cache

BOS, END = "^", "$"


class ReferenceKN:
    def __init__(self, words: list[str], order: int, discounts: list[list[float]]):
        self.order, self.discounts = order, discounts
        self.alphabet = sorted(set("".join(words)))
        self.symbols = self.alphabet + [END]
        self.raw: Counter = Counter()  # (context, symbol) -> count, every context length
        for w in words:
            padded = BOS + w + END
            for i in range(1, len(padded)):
                for length in range(0, min(self.order, i) + 1):
                    self.raw[padded[i - length : i], padded[i]] += 1
        self.prob = lru_cache(maxsize=None)(self._prob)

    def adjusted(self, ctx: str, sym: str) -> float:
        if len(ctx) == self.order or ctx.startswith(BOS):
            return self.raw[ctx, sym]
        return sum(1 for x in self.alphabet + [BOS] if self.raw[x + ctx, sym] > 0)

    def _prob(self, ctx: str, sym: str) -> float:
        ctx = ctx[-self.order :] if self.order else ""
        lower = (lambda: self.prob(ctx[1:], sym)) if ctx else (lambda: 1 / len(self.symbols))
        counts = {s: self.adjusted(ctx, s) for s in self.symbols}
        total = sum(counts.values())
        if total == 0:
            return lower()
        d = self.discounts[len(ctx)]
        disc = {s: (0 if c == 0 else d[0] if c == 1 else d[1] if c == 2 else d[2]) for s, c in counts.items()}
        gamma = sum(disc.values()) / total
        return max(counts[sym] - disc[sym], 0) / total + gamma * lower()

    def word_prob(self, word: str) -> float:
        padded = BOS + word + END
        p = 1.0
        for i in range(1, len(padded)):
            p *= self.prob(padded[max(0, i - self.order) : i], padded[i])
        return p
