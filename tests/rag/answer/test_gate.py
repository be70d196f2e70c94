from rag.answer import gate
from rag.language import Question

KNOWN = {"transformer", "q4_k_m", "llama.cpp", "温度", "论文"}


class Index:
    """A keyword index holding the tokens `occurs` accepts, in the chunk shares `shares` gives (none: unknown)."""

    def __init__(self, occurs, shares=None):
        self.occurs, self.shares = occurs, shares or (lambda tokens: {})

    def keyword_search(self, tokens, k):
        return [(1, 1.0)] if self.occurs(tokens) else []

    def starts_compound(self, token):
        return False

    def chunk_counts(self, tokens):
        return {t: round(share * 100) for t, share in self.shares(tokens).items()}

    def chunk_count(self):
        return 100


def unknown_names(question, occurs, retrieved="", shares=None):
    return gate.unknown_names(Question.of(question), Index(occurs, shares), retrieved)


def names_in(question):
    return gate.names_in(Question.of(question))


def occurs(tokens):
    return any(t in KNOWN for t in tokens)


def test_latin_terms_and_proper_nouns_are_names_but_ordinary_words_are_not():
    assert names_in("GPT-4 的参数量是多少？") == ["GPT-4"]
    assert "诺贝尔物理学奖" in names_in("2025年诺贝尔物理学奖得主是谁？")
    assert names_in("评估 RAG 的检索层常用哪些指标？") == ["RAG"]


def test_in_english_questions_only_acronyms_and_camelcase_are_names():
    assert names_in("How many GPUs were used to train GPT-4?") == ["GPUs", "GPT-4"]
    assert names_in("What license is Mistral 7B released under?") == []
    assert names_in("How do I fine-tune a model with DPO?") == ["DPO"]


def test_unknown_names_are_those_the_kb_never_mentions():
    assert unknown_names("Mamba 相比 Transformer 有什么优势？", occurs) == ["Mamba"]
    assert unknown_names("Q4_K_M 和 llama.cpp 是什么关系？", occurs) == []
    # "GPT-4" must occur whole; knowing "gpt" and "4" separately is not enough.
    knows_parts = lambda toks: all(t in {"gpt", "4"} for t in toks)  # noqa: E731
    assert unknown_names("GPT-4 的参数量是多少？", knows_parts) == ["GPT-4"]


def test_stopwords_inside_a_chinese_question_are_not_names():
    knows = lambda toks: "lost" in toks or "middle" in toks or not any(t.isascii() for t in toks)  # noqa: E731
    assert unknown_names("什么是“迷失在中间”（lost in the middle）现象？", knows) == []


def test_two_missing_content_words_mean_the_kb_does_not_cover_the_question():
    known = {"训练", "模型", "生成", "温度", "参数", "作用"}
    occurs_in_kb = lambda toks: all(t in known for t in toks)  # noqa: E731
    assert unknown_names("如何训练一个扩散模型生成图片？", occurs_in_kb) == ["扩散", "图片"]
    # One paraphrased word ("情况") is not enough to refuse.
    assert unknown_names("温度参数在什么情况下起作用？", occurs_in_kb) == []
    # Two missing words among many are a rephrasing, not another subject: fewer than a third of eight.
    many = known | {"回答", "内容", "引用", "编号", "原文", "问题"}
    assert unknown_names("回答内容没错，但引用的编号指错了原文，一般是哪里出了问题？",
                         lambda toks: all(t in many for t in toks)) == []
    # The commonest words of the language (人员, 出来) name no subject; their absence is not counted.
    about = known | {"transformer", "架构", "公司", "研究", "发表"}
    assert unknown_names("Transformer 架构是在哪一年、由哪家公司的研究人员发表出来的？",
                         lambda toks: all(t in about for t in toks)) == []
    # English questions are left to the names check.
    assert unknown_names("How do I train a diffusion model?", occurs_in_kb) == []


def test_a_name_found_verbatim_in_the_retrieved_passages_is_known():
    # jieba cuts "桓檀古记" in the document differently from "桓檀古" in the question, so the keyword
    # index never matches; the retrieved text still shows the KB knows the name.
    nothing = lambda toks: False  # noqa: E731
    # 桓檀古 is not in jieba's dictionary, so it is not trusted as a name; with 成书 it makes two missing content
    # words out of two, which still refuses.
    assert unknown_names("桓檀古是哪一年成书的？", nothing) == ["桓檀古", "成书"]
    assert unknown_names("桓檀古是哪一年成书的？", nothing, retrieved="《桓檀古记》成书于1911年。") == []
    # A Latin name must stand alone in the retrieved text.
    assert unknown_names("GPT-4 的参数量是多少？", nothing, retrieved="GPT-4o 是多模态模型。") == ["GPT-4"]
    assert unknown_names("GPT-4 的参数量是多少？", nothing, retrieved="据传 gpt-4 很大。") == []


def test_interrogatives_never_count_as_missing_content_words():
    known = {"qwen2.5-7b-instruct", "支持", "上下文", "方法", "扩展", "128k"}
    occurs_in_kb = lambda toks: all(t in known for t in toks)  # noqa: E731
    # jieba tags 多长 as a noun and 原本 is missing too: that was two missing words, a refusal (blind test3).
    assert unknown_names("Qwen2.5-7B-Instruct 原本支持多长的上下文？后来是用什么方法扩展到 128K 的？",
                         occurs_in_kb) == []


def test_a_proper_noun_jieba_only_guessed_is_not_a_name():
    # jieba tags 塞进 ("stuff into") as a person's name; its dictionary has it only as a stray count of 3.
    assert names_in("重排序阶段一般先召回多少个候选，最后塞进提示词的又有几个？") == []
    assert names_in("2024 年欧洲杯的冠军是哪支球队？") == ["欧洲杯"]


def test_missing_words_are_paraphrase_when_the_question_uses_a_word_specific_to_the_kb():
    known = {"幻觉", "训练", "模型", "生成"}
    occurs_in_kb = lambda toks: all(t in known for t in toks)  # noqa: E731
    shares = {"幻觉": 0.08, "训练": 0.13, "模型": 0.8, "生成": 0.22}
    in_kb = lambda toks: {t: shares[t] for t in toks if t in shares}  # noqa: E731
    # 分成 and 类型 are missing, but 幻觉 is in only 8% of the chunks: the KB is about this (blind test5).
    assert unknown_names("幻觉通常分成哪两种类型？", occurs_in_kb) == ["分成", "类型"]
    assert unknown_names("幻觉通常分成哪两种类型？", occurs_in_kb, shares=in_kb) == []
    # Words the KB uses everywhere (训练, 模型, 生成) are no such sign.
    assert unknown_names("如何训练一个扩散模型生成图片？", occurs_in_kb, shares=in_kb) == ["扩散", "图片"]
