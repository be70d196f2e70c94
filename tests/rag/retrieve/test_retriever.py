import pytest

from rag.retrieve.retriever import DENSE_SHARE, Retriever, rrf


class Reads:
    """An embedder that cannot read a given share of every query."""

    def __init__(self, unk: float) -> None:
        self.unk = unk

    def unk_rate(self, text: str) -> float:
        return self.unk


def fused_order(rankings, weights):
    scores = rrf(rankings, weights)
    return sorted(scores, key=lambda i: (-scores[i], i))


def test_rrf_rewards_agreement_between_rankers():
    assert fused_order([[1, 2, 3], [3, 2, 9]], [1.0, 1.0])[0] in {2, 3}
    assert fused_order([[1, 2, 3], [3, 2, 9]], [1.0, 1.0])[-1] == 9


def test_keyword_ranker_breaks_a_swap_at_the_top():
    # Dense says 10 then 20, keyword says 20 then 10: the exact match (keyword's first) wins.
    assert fused_order([[10, 20], [20, 10]], [DENSE_SHARE, 1.0])[0] == 20
    # ...but a passage both rankers put first is never displaced by a keyword-only one.
    assert fused_order([[10, 20, 30], [10, 30]], [DENSE_SHARE, 1.0])[0] == 10


@pytest.mark.parametrize("unk, expected", [(0.0, DENSE_SHARE), (0.77, DENSE_SHARE * 0.23), (1.0, 0.0)])
def test_dense_weight_follows_how_much_of_the_query_the_embedder_reads(unk, expected):
    assert Retriever(None, Reads(unk)).dense_weight("问题") == pytest.approx(expected)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        Retriever(None, Reads(0.0), mode="fancy")
