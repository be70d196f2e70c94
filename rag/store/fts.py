"""Queries against the keyword index, an FTS5 table in kb.sqlite (its schema and writes are in `rag.store.kbdb`).

Queries reach FTS5 only as quoted strings joined by OR, so user text can never be FTS syntax.
"""

from __future__ import annotations

import sqlite3

_BATCH = 500  # terms per `IN (...)`: well under SQLite's variable limit on every version
ROW_BUDGET = 30_000  # rows one keyword query may score: ~50-100 ms on a busy 2-core machine (keyword_search)


def fts_query(tokens: list[str]) -> str:
    """An FTS5 MATCH expression: each token a quoted string, joined by OR, so no user text is FTS syntax.

    Tokens without a character the tokenizer keeps would be empty strings; they are dropped.
    """
    quoted = ['"' + t.replace('"', '""') + '"' for t in (t.replace("\x00", "") for t in tokens)
              if any(not ch.isascii() or ch.isalnum() or ch in "-_." for ch in t)]
    return " OR ".join(dict.fromkeys(quoted))


def _vocabulary(db: sqlite3.Connection) -> None:
    """`temp.keyword_df`: FTS5's own term list with each term's chunk count, read by seeks, not row scans."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.keyword_df USING fts5vocab(main, keywords, 'row')")


def chunk_counts(db: sqlite3.Connection, tokens: list[str]) -> dict[str, int]:
    """How many chunks hold each token, from FTS5's own vocabulary (a seek per term, no row scan)."""
    _vocabulary(db)
    found: dict[str, int] = {}
    for batch in (tokens[i:i + _BATCH] for i in range(0, len(tokens), _BATCH)):
        sql = f"SELECT term, doc FROM temp.keyword_df WHERE term IN ({','.join('?' * len(batch))})"
        found.update(db.execute(sql, batch).fetchall())
    return found


def starts_compound(db: sqlite3.Connection, token: str) -> bool:
    """Whether an indexed token extends `token` by a -, _ or . part: "phi-3-mini" is in "phi-3-mini-128k".

    A seek into FTS5's vocabulary (a range of terms), not a row scan.
    """
    _vocabulary(db)
    rows = db.execute("SELECT term FROM temp.keyword_df WHERE term > ? AND term < ? LIMIT 200",
                      (token, token + "\U0010ffff")).fetchall()
    return any(term[len(token):len(token) + 1] in ("-", "_", ".") for (term,) in rows)


def keyword_search(db: sqlite3.Connection, tokens: list[str], k: int) -> list[tuple[int, float]]:
    """The best k chunks by BM25 over any of `tokens`, scoring at most about ROW_BUDGET rows.

    FTS5 scores every row an OR query matches before it keeps the best k, so one very common token makes a
    query slow: at 1M chunks a token in 12% of them took 360 ms (`bench.search`). Such tokens add little to
    BM25 (low IDF), so tokens are taken rarest first while the rows they match fit the budget; the rarest is
    always kept. Rows holding only a dropped token can still fill up a short result, unranked and scored 0,
    so "does any token occur" (the unknown-name refusal) keeps its answer. Below ROW_BUDGET chunks in all,
    nothing is ever dropped.
    """
    if k <= 0:
        return []
    df = chunk_counts(db, tokens)
    kept, dropped, rows_to_score = [], [], 0
    for t in sorted(dict.fromkeys(tokens), key=lambda t: df.get(t, 0)):
        if kept and rows_to_score + df.get(t, 0) > ROW_BUDGET:
            dropped.append(t)
        else:
            kept.append(t)
            rows_to_score += df.get(t, 0)
    expression = fts_query(kept)
    if not expression:
        return []
    # `rank` is bm25() by default, and ORDER BY rank LIMIT k lets FTS5 keep only the best k.
    rows = db.execute("SELECT rowid, rank FROM keywords WHERE keywords MATCH ? ORDER BY rank LIMIT ?",
                      (expression, k)).fetchall()
    hits = [(int(cid), -float(score)) for cid, score in rows]  # FTS5's bm25 is lower-is-better; negate
    if dropped and len(hits) < k:
        seen = {cid for cid, _ in hits}
        more = db.execute("SELECT rowid FROM keywords WHERE keywords MATCH ? LIMIT ?",
                          (fts_query(dropped), k + len(seen))).fetchall()
        hits += [(int(cid), 0.0) for (cid,) in more if cid not in seen][:k - len(hits)]
    return hits
