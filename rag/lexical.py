"""BM25-style full-text ranking on PostgreSQL's ``english`` text search (stemming, stop words).

Why not ``ts_rank_cd`` over an OR of every word: a question's common words ("price", "open")
match a large share of a knowledge base, every match gets ranked, and the longest passage (the
FAQ) wins because it holds the most words. Here each query term is weighted by its inverse
document frequency, scores are normalised by passage length as BM25 does, and only a capped
number of candidates, found through the query's *selective* terms, is ranked.

The steps, sans I/O where possible:

1. :data:`ANALYSE_SQL` turns the question into stemmed lexemes (the same ``to_tsvector`` as the
   stored ``tsv`` column) and counts each lexeme's document frequency, capped at ``df_cap`` so
   that counting a very common word stays cheap.
2. :func:`plan` (pure) weights the terms (BM25 idf; numbers such as prices, times and ages
   count double, since a caller asking "is it 25 euros" means that number), builds phrase terms
   from adjacent query words, and picks the terms that select candidates.
3. :func:`rank_sql` scores up to ``candidate_cap`` candidates: the sum of the matched terms'
   weights with binary term frequency and BM25 length normalisation, plus phrase bonuses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

ANALYSE_SQL = """
    SELECT t.lexeme, t.positions[1] AS position,
           (SELECT count(*) FROM (
                SELECT 1 FROM chunks c
                WHERE c.tenant_id = $3
                  AND c.tsv @@ to_tsquery('simple', quote_literal(t.lexeme))
                LIMIT $4) s) AS df
    FROM unnest(to_tsvector($1::regconfig, $2)) AS t
    ORDER BY t.positions[1]
    LIMIT 32"""

COUNT_SQL = "SELECT count(*) FROM chunks WHERE tenant_id = $1"

K1 = 1.2
B = 0.5  # milder than the textbook 0.75: chunks are already of similar size
NUMBER_BOOST = 2.0
PHRASE_SHARE = 0.5  # a phrase match adds this share of its words' weights
_NUMBER = re.compile(r"^\d+([.,:]\d+)?$")


@dataclass(frozen=True)
class Term:
    query: str  # tsquery text of already normalised lexemes: 'open' or 'open' <-> 'hour'
    weight: float
    single: bool  # a single word (counts for coverage), or a phrase bonus


@dataclass(frozen=True)
class LexicalPlan:
    terms: tuple[Term, ...]
    select: str  # tsquery text that finds the candidates
    total_weight: float  # of single terms: a passage matching all of them has coverage 1


def quote(lexeme: str) -> str:
    """A lexeme as a tsquery operand, quoted so that no character is read as an operator."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def idf(df: int, n: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def plan(
    analysed: Sequence[tuple[str, int, int]], n_chunks: int, *, df_cap: int
) -> LexicalPlan | None:
    """``analysed``: (lexeme, first position, capped df) in query order. None when no term of
    the question occurs in the knowledge base."""
    n = max(n_chunks, 1)
    found = [(lex, pos, df) for lex, pos, df in analysed if df > 0]
    if not found:
        return None
    terms: list[Term] = []
    weights: dict[str, float] = {}
    for lexeme, _pos, df in found:
        weight = idf(df, max(n, df))
        if _NUMBER.match(lexeme):
            weight *= NUMBER_BOOST
        weights[lexeme] = weight
        terms.append(Term(quote(lexeme), weight, single=True))
    for (a, pos_a, _), (b, pos_b, _) in zip(found, found[1:], strict=False):
        distance = pos_b - pos_a
        if 0 < distance <= 3:
            operator = "<->" if distance == 1 else f"<{distance}>"
            bonus = PHRASE_SHARE * (weights[a] + weights[b])
            terms.append(Term(f"{quote(a)} {operator} {quote(b)}", bonus, single=False))
    # Candidates come through the selective terms; a word in more than ``df_cap`` passages
    # only ranks (unless the question has nothing rarer).
    selective = [lex for lex, _pos, df in found if df < df_cap] or [lex for lex, _, _ in found]
    select = " | ".join(quote(lex) for lex in dict.fromkeys(selective))
    # Coverage is measured against every word of the question, including those that occur
    # nowhere in the knowledge base (the rarest of all): "fishing licences" is not covered by
    # a passage that only shares "sell" with the question.
    absent = [lex for lex, _pos, df in analysed if df == 0]
    missing = sum(idf(0, n) * (NUMBER_BOOST if _NUMBER.match(lex) else 1.0) for lex in absent)
    total = sum(t.weight for t in terms if t.single) + missing
    return LexicalPlan(tuple(terms), select, total)


def rank_sql(bot_filter: str) -> str:
    """Parameters: $1 candidate tsquery, $2 tenant, $3 bot, $4 term queries, $5 weights,
    $6 single flags, $7 candidate cap, $8 limit, $9 total single weight. The terms are parsed
    once (the ``terms`` CTE), not once per candidate."""
    return f"""
        WITH terms AS MATERIALIZED (
            SELECT t.q::tsquery AS q, t.w, t.single
            FROM unnest($4::text[], $5::float8[], $6::bool[]) AS t(q, w, single)
        ), candidates AS MATERIALIZED (
            SELECT c.id, c.document_id, c.content, c.metadata, d.title, c.tsv,
                   greatest(length(c.tsv), 1) AS len
            FROM chunks c
            JOIN documents d ON d.tenant_id = c.tenant_id AND d.id = c.document_id
            WHERE c.tsv @@ $1::tsquery AND c.tenant_id = $2 AND {bot_filter}
            LIMIT $7
        ), scored AS (
            SELECT k.id, sum(t.w) AS raw, coalesce(sum(t.w) FILTER (WHERE t.single), 0) AS single
            FROM candidates k JOIN terms t ON k.tsv @@ t.q
            GROUP BY k.id
        )
        SELECT k.id, k.document_id, k.content, k.metadata, k.title,
               s.raw * {K1 + 1} / (1 + {K1} * (1 - {B} + {B} * k.len / avg(k.len) OVER ()))
                   AS rank,
               s.single / greatest($9::float8, 1e-9) AS coverage
        FROM candidates k JOIN scored s ON s.id = k.id
        ORDER BY rank DESC, k.id
        LIMIT $8"""
