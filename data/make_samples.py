"""Generate the demo knowledge base in data/samples/ deterministically.

    python data/make_samples.py            # writes data/samples/*
    python data/make_samples.py --out DIR  # somewhere else

All text lives in this file. It is original prose written for this project (facts about LLMs are common
knowledge; the sentences are our own). Numbers marked as estimates are computed from a stated formula.

Outputs: llm-handbook.docx (python-docx, real Heading styles, two tables), rag-guide.pdf (reportlab,
seven pages, one topic per page, CJK font embedded), glossary.xlsx (three sheets, merged cells, numeric
columns), models.csv (UTF-8), faq.md, intro.txt.

Determinism: zip members of .docx/.xlsx get a fixed timestamp and the core-properties dates are pinned;
reportlab runs with invariant=1. The PDF embeds WenQuanYi Micro Hei (Debian: fonts-wqy-microhei) when it is
installed, otherwise WenQuanYi Zen Hei, otherwise the built-in CID font STSong-Light (not embedded). All
three give clean CJK text through pypdf; only the embedded TTF renders everywhere.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

FIXED_TIME = dt.datetime(2025, 1, 15, 9, 0, 0)
ZIP_TIME = (2025, 1, 15, 9, 0, 0)
AUTHOR = "RAG-KB 示例"

# --------------------------------------------------------------------------------------------------------
# llm-handbook.docx
# Each entry: ("title"|"h1"|"h2"|"h3"|"p"|"caption", text) or ("table", [header, *rows]).
# --------------------------------------------------------------------------------------------------------

HANDBOOK = [
    ("title", "大语言模型实用手册"),
    ("p", "本手册面向第一次接触大语言模型（Large Language Model，LLM）的工程师，尽量少用公式，"
          "把日常开发中反复遇到的概念讲清楚。文中的数字均为业内常见取值，实际使用时请以所选模型和推理框架的文档为准。"),

    ("h1", "第一章 模型如何读写文字"),
    ("h2", "1.1 Token：模型眼中的最小单位"),
    ("p", "模型并不直接处理汉字或字母。文本先经过分词器（tokenizer）切成一个个 token，每个 token 再对应词表中的一个整数编号。"
          "主流分词器大多采用字节对编码（Byte Pair Encoding，BPE）或它的变体：从单个字节出发，反复把语料里最常相邻出现的片段合并成新条目，"
          "最终得到一张几万到十几万条目的词表。"),
    ("p", "换算关系值得记住：英文里一个 token 平均约等于四分之三个单词；中文里一个汉字通常对应一到两个 token，"
          "具体比例取决于词表收录了多少中文词语。API 计费、长度限制和速度统计都以 token 为单位。"),
    ("h2", "1.2 Transformer 与自注意力"),
    ("p", "如今的主流大模型几乎都基于 Transformer 架构。2017 年，Google 的研究团队发表论文《Attention Is All You Need》，公布了这一架构。"
          "它放弃了循环神经网络逐步传递状态的做法，改用自注意力（self-attention）让序列里的每个位置直接与其他所有位置交换信息，因此训练可以高度并行。"),
    ("p", "生成式语言模型一般只保留 Transformer 的解码器部分，以自回归方式工作：每一步只预测下一个 token，"
          "把它接到已有文本的末尾，再继续预测，直到产生结束符或达到长度上限。"),
    ("h2", "1.3 参数规模怎么读"),
    ("p", "模型名称中的 7B、13B、70B 指参数个数，B 是 billion（十亿）的缩写，7B 即大约 70 亿个参数。"
          "参数越多，模型通常越聪明，但推理所需的内存和算力也水涨船高。按 16 位浮点数存储时每个参数占 2 字节，"
          "因此一个 7B 模型光是权重就要大约 14 GB。"),
    ("caption", "表 1-1 不同精度下 7B 模型的权重大小"),
    ("table", [
        ["精度", "每个参数的字节数", "7B 模型权重大小"],
        ["FP32（单精度）", "4", "约 28 GB"],
        ["FP16 / BF16（半精度）", "2", "约 14 GB"],
        ["INT8（8 位整数）", "1", "约 7 GB"],
        ["INT4（4 位整数）", "0.5", "约 3.5 GB"],
    ]),

    ("h1", "第二章 采样：从概率到文字"),
    ("h2", "2.1 logits 与 softmax"),
    ("p", "模型的最后一层会为词表中的每个 token 给出一个未经归一化的分数，称为 logit。softmax 函数把这组分数变成总和为 1 的概率分布，"
          "随后由采样策略决定到底输出哪一个 token。下面几个参数改变的都是这一步。"),
    ("h2", "2.2 温度（temperature）"),
    ("p", "温度的做法很简单：在 softmax 之前，把全部 logits 除以同一个数 T。T 小于 1 时分布被拉得更尖，高概率 token 的优势被放大，输出更稳定；"
          "T 大于 1 时分布被压平，冷门 token 更容易被抽中，输出更发散。T 等于 1 相当于不做任何调整；T 趋近于 0 时，"
          "采样退化为贪心解码，几乎每一步都选概率最高的 token。"),
    ("p", "经验上，代码生成、信息抽取和知识问答适合 0 到 0.3 的低温度；写故事、起标题、头脑风暴可以放宽到 0.7 到 1.0。"),
    ("h2", "2.3 截断采样"),
    ("h3", "2.3.1 Top-k"),
    ("p", "Top-k 先按概率从高到低排序，只保留前 k 个候选，把其余候选的概率清零后重新归一化，再从中抽样。"
          "它的缺点是 k 固定不变：模型很有把握时，k 个候选里混进了明显不合适的词；模型拿不准时，k 个候选又可能太少。"),
    ("h3", "2.3.2 Top-p（核采样）"),
    ("p", "Top-p 又叫核采样（nucleus sampling），由 Holtzman 等人在 2019 年提出。它同样先按概率排序，然后从高到低累加，"
          "直到累计概率首次达到阈值 p，只在这一小撮候选（“核”）里抽样。核的大小随分布形状自动伸缩，"
          "模型越有把握，核就越小。p 常取 0.9 到 0.95，设为 1 等于不截断。"),
    ("p", "通常建议温度和 top-p 一次只大幅调整其中一个，否则很难判断输出的变化究竟来自哪一个参数。"),
    ("caption", "表 2-1 采样参数对比"),
    ("table", [
        ["参数", "作用", "常见取值"],
        ["temperature", "缩放 logits，控制输出的随机程度", "问答 0–0.3，创作 0.7–1.0"],
        ["top_p", "只在累计概率达到 p 的候选中抽样", "0.9–0.95"],
        ["top_k", "只在概率最高的 k 个候选中抽样", "20–50"],
        ["repeat_penalty", "压低已出现 token 的分数，减少车轱辘话", "1.05–1.2"],
        ["max_tokens", "限制单次回答最多生成的 token 数", "256–1024"],
        ["seed", "固定随机种子，使结果可以复现", "任意整数"],
    ]),

    ("h1", "第三章 上下文窗口与提示词"),
    ("h2", "3.1 上下文窗口"),
    ("p", "上下文窗口（context window）是模型单次推理能够处理的 token 总数上限，提示词和生成的回答共享这一额度。"
          "假设窗口为 4096 个 token，而提示词已经占去 3500 个，那么留给回答的空间就不到 600 个 token。"
          "早期的 GPT-3.5 和 Llama 2 只有 4K 左右的窗口，现在许多模型已经支持 128K 甚至更长。"),
    ("p", "窗口加长是有代价的：标准自注意力的计算量随序列长度按平方增长，KV 缓存占用的内存则与长度成正比。"
          "研究还发现，模型对长输入中间位置的信息利用得最差，这一现象被称为“迷失在中间”（lost in the middle）。"
          "所以即便窗口足够大，把最关键的材料放在提示词的开头或结尾依然更稳妥。"),
    ("h2", "3.2 提示词工程"),
    ("p", "提示词（prompt）是交给模型的全部输入。系统提示词（system prompt）负责设定角色、语气和规则，"
          "例如“你是一名严谨的技术文档助手，只根据给定资料回答”。在提示词里放几组“输入—期望输出”的示范，叫作少样本提示（few-shot prompting）；"
          "要求模型先写出推理过程再给结论，叫作思维链（chain-of-thought）提示。"),
    ("p", "一条好的提示词通常做到三点：任务交代清楚，约束写成可检查的条件，输出格式给出样例。"
          "与其写“简要回答”，不如写“用不超过三句话回答，并在句末标注来源编号”。"),

    ("h1", "第四章 让模型掌握新知识"),
    ("h2", "4.1 全量微调与 LoRA"),
    ("p", "微调（fine-tuning）指拿一个预训练好的模型，用规模较小、面向特定任务的数据继续训练。全量微调会更新全部权重，效果好但显存和时间开销都很大。"),
    ("p", "LoRA（Low-Rank Adaptation）由微软的研究者于 2021 年提出：冻结原有权重，只在部分线性层旁边并联两个低秩矩阵 A 和 B 并训练它们，秩 r 常取 8 或 16。"
          "可训练参数因此往往不到原模型的 1%。训练完成后，低秩增量可以合并回原权重，推理时不增加任何延迟。"
          "QLoRA 更进一步，把冻结的底座模型量化成 4 位再训练 LoRA，论文演示了在单张 48 GB 显卡上微调 65B 模型。"),
    ("h2", "4.2 微调还是 RAG"),
    ("p", "微调擅长改变模型的“行为”，比如固定的输出格式、说话的语气、行业术语的用法；检索增强生成（RAG）擅长补充“知识”，"
          "它在回答之前先从外部文档中检索相关片段，放进提示词供模型参考。资料经常更新、回答需要注明出处时，RAG 通常是首选，"
          "因为更新知识只需重建索引，不必重新训练。两种方法并不互斥，也可以组合使用。"),

    ("h1", "第五章 幻觉与本地部署"),
    ("h2", "5.1 幻觉"),
    ("p", "幻觉（hallucination）是指模型生成了读起来通顺、实际上却与事实或给定材料不符的内容。常见的分法有两类："
          "事实性幻觉与真实世界的知识相矛盾，比如编造一篇并不存在的论文；忠实性幻觉则偏离了用户输入或所给上下文，比如做摘要时添油加醋。"),
    ("p", "降低幻觉的常用手段包括：用 RAG 提供可靠依据，要求模型逐条标注引用，证据不足时明确回答“不知道”，以及在事实类任务中调低温度。"),
    ("h2", "5.2 量化与内存估算"),
    ("p", "量化（quantization）用更少的比特表示权重，换取更小的体积和更快的推理。llama.cpp 使用的 GGUF 格式提供多种量化级别，"
          "其中 Q4_K_M 平均每个权重约占 4.5 到 5 比特，是体积与质量之间最常用的折中；Q8_0 约为 8.5 比特，质量几乎无损。"),
    ("p", "估算模型文件大小可以用一个简单公式：字节数 ≈ 参数量 × 每权重比特数 ÷ 8。按此计算，7B 模型的 Q4_K_M 文件大约 4 GB 出头。"
          "实际运行时还要给 KV 缓存和计算缓冲区留出额外内存，上下文开得越长，这部分开销越大。"),
    ("h2", "5.3 推理速度从哪里来"),
    ("p", "一次生成分为两个阶段。预填充（prefill）阶段一次性处理整段提示词，可以充分并行，速度很快；"
          "解码（decode）阶段逐个生成 token，每生成一个都要把全部权重从内存里读一遍，因此速度主要受内存带宽限制，而不是算力。"),
    ("p", "这也解释了量化为什么能提速：模型文件越小，每一步需要搬运的数据越少。在同一台只有 CPU 的电脑上，"
          "Q4_K_M 模型的生成速度通常明显快于同一模型的 FP16 版本。"),
]


def write_docx(path: Path) -> None:
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    rpr = normal.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), "宋体")

    levels = {"title": 0, "h1": 1, "h2": 2, "h3": 3}
    for kind, content in HANDBOOK:
        if kind in levels:
            doc.add_heading(content, level=levels[kind])
        elif kind == "p":
            doc.add_paragraph(content)
        elif kind == "caption":
            doc.add_paragraph(content, style="Caption")
        elif kind == "table":
            header, *rows = content
            table = doc.add_table(rows=1 + len(rows), cols=len(header))
            table.style = "Table Grid"
            for r, values in enumerate([header, *rows]):
                for c, value in enumerate(values):
                    cell = table.cell(r, c)
                    cell.text = value
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
        else:
            raise ValueError(kind)

    cp = doc.core_properties
    cp.title = "大语言模型实用手册"
    cp.author = AUTHOR
    cp.last_modified_by = AUTHOR
    cp.created = FIXED_TIME
    cp.modified = FIXED_TIME
    cp.revision = 1
    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(_normalize_zip(buf.getvalue()))


# --------------------------------------------------------------------------------------------------------
# rag-guide.pdf: one topic per page, so page citations can be checked.
# Each page: (heading, [paragraphs]). Paragraphs are plain text; reportlab markup characters are escaped.
# --------------------------------------------------------------------------------------------------------

PDF_TITLE = "RAG 实践指南"
PDF_SUBTITLE = "检索增强生成（Retrieval-Augmented Generation）从入门到上线 · 示例文档 v1.0"

PDF_PAGES = [
    ("一、什么是检索增强生成", [
        "检索增强生成（Retrieval-Augmented Generation，RAG）这个名称出自 Lewis 等人 2020 年发表的论文，作者主要来自 Facebook AI Research（现 Meta AI）。"
        "它的想法并不复杂：模型参数里装不下、也来不及更新所有知识，那就在回答之前先去资料库查一查，把查到的片段连同问题一起交给模型。",
        "一个完整的 RAG 系统分为离线和在线两部分。离线部分负责建索引：解析文档、切块、计算嵌入向量，并写入向量索引和关键词索引。"
        "在线部分负责回答：接收用户问题，召回候选片段，重排序，拼装提示词，最后由大模型生成带引用的答案。",
        "整条流水线可以概括为七步：解析（parse）→ 切块（chunk）→ 嵌入（embed）→ 索引（index）→ 检索（retrieve）→ 重排（rerank）→ 生成（generate）。",
        "与单纯依赖模型记忆相比，RAG 有三个好处：知识随时可以更新；答案能够追溯到原文；私有资料不必交给第三方拿去训练。"
        "它的上限取决于检索质量，正确的片段一旦没有被召回，模型再强也无从作答。",
        "RAG 最适合三类场景：内部文档问答（规章制度、产品手册、会议纪要），需要注明出处的专业检索（法规、标准、论文），"
        "以及内容频繁变化的客服知识库。对于开放式闲聊或纯创作任务，检索能带来的帮助有限。",
        "在完全离线的环境里，嵌入模型、重排序模型和生成模型都必须部署在本地。"
        "一个 1.5B 参数、Q4_K_M 量化的生成模型大约只占 1 GB 内存，普通笔记本电脑也能运行。",
    ]),
    ("二、文档解析与切块（Chunking）", [
        "切块决定了检索的粒度。块太大，一个向量里混进好几个主题，相似度被稀释，还会挤占宝贵的上下文窗口；块太小，单个片段缺少前因后果，模型读了也答不完整。",
        "对中文资料来说，每块 300 到 600 个汉字是一个稳妥的起点；相邻块之间保留 10% 到 20% 的重叠，可以避免关键句子被从中间截断。",
        "比固定长度更好的做法是按文档结构切分：优先在标题、段落和列表项的边界断开，并把所属标题路径（例如“第二章 > 2.3 截断采样”）写进块的元数据。"
        "表格需要单独处理：按行切分时，每个块开头都要重复表头，否则像 0.9 这样的数值离开列名就失去了意义。",
        "每个块都要带上定位信息（locator）：PDF 记录页码，Excel 记录工作表名和行号，Word 记录标题路径。最终给出引用时，这些信息会原样展示给用户。",
        "扫描件 PDF 没有文字层，必须先做 OCR 才能入库；pypdf 一类的工具只能提取文件里已经存在的文字。",
        "不同格式各有陷阱。Word 文档可以借助段落样式识别标题层级；Excel 的合并单元格只在左上角保存数值，解析时要把它填到整个合并区域；"
        "CSV 文件要先探测编码，国内常见以 GBK 编码保存的表格。",
        "切块后为每个块计算一个稳定的编号，例如对来源路径和文本内容取哈希。这样重新入库时，内容没有变化的块就不必再算一遍嵌入。",
    ]),
    ("三、嵌入与向量检索", [
        "嵌入模型（embedding model）把一段文字映射为固定长度的向量，意思相近的文字在向量空间中彼此靠近。"
        "向量维度由模型决定：all-MiniLM-L6-v2 输出 384 维，multilingual-e5-base 输出 768 维，bge-m3 输出 1024 维。",
        "衡量相似度最常用的是余弦相似度。若事先把所有向量归一化为单位长度，余弦相似度就等于内积，可以直接用 FAISS 的 IndexFlatIP 做精确检索。",
        "数据量在几十万条以内时，暴力检索已经足够快；规模再大，可以改用 HNSW 或 IVF 等近似最近邻（ANN）索引，以少量召回率换取数量级的速度提升。",
        "E5 系列模型训练时给文本加了前缀：查询以“query:”开头，文档以“passage:”开头。省略前缀会明显拉低检索效果。",
        "查询和文档必须使用同一个嵌入模型编码。更换嵌入模型之后，旧向量全部作废，整个索引需要重建。",
        "嵌入模型的输入长度同样有限。例如 all-MiniLM-L6-v2 默认只读取前 256 个词片（word piece），多出的部分直接被截断，这也是块不宜切得过大的原因之一。",
        "向量索引本身并不保存原文，系统需要另外维护一张从向量编号到文本块及其定位信息的映射表，检索命中后再据此取回原文。",
    ]),
    ("四、混合检索：BM25 与 RRF", [
        "向量检索擅长理解同义改写，却容易漏掉需要精确匹配的字符串，比如型号 Q4_K_M、错误码和人名；这类查询交给关键词检索更可靠。"
        "因此实践中常把两路结果合并，称为混合检索（hybrid search）。",
        "BM25 是经典的关键词相关性打分函数，综合考虑词频、逆文档频率和文档长度。它有两个参数：k1 控制词频饱和的快慢，常取 1.2 到 2.0；"
        "b 控制文档长度归一化的力度，常取 0.75。",
        "中文句子之间没有空格，使用 BM25 之前要先用 jieba 等工具分词，或者按相邻两个字组成的二元组（bigram）建立索引。",
        "两路检索的分数量纲不同，直接相加并不合理。倒数排名融合（Reciprocal Rank Fusion，RRF）只看名次：文档在每一路结果中得到 1/(k + rank) 分，各路得分相加即为最终分数。",
        "常数 k 一般取 60，这个值出自 Cormack 等人 2009 年的论文。RRF 不需要为各路结果调权重，对个别异常高的分数也不敏感，是混合检索的默认选择。",
        "举个例子：某个片段在向量检索中排第 1 名，在 BM25 中排第 3 名，它的 RRF 得分为 1/61 + 1/63，约等于 0.0323。"
        "只出现在一路结果中的片段，只能拿到那一路的分数。",
    ]),
    ("五、重排序（Reranking）", [
        "第一阶段的召回讲究“宁多勿漏”，通常取回 20 到 100 个候选；第二阶段的重排序讲究“排得准”。",
        "重排序模型多为交叉编码器（cross-encoder）：把问题和候选片段拼接后送进同一个 Transformer，直接输出一个相关性分数。"
        "问题和片段在每一层都能相互注意，所以它比双塔式的嵌入模型判断得更细；代价是每个候选都要单独跑一遍模型，结果无法预先算好。",
        "常见配置是：召回 50 个候选，用 bge-reranker 这类模型重新打分，只把得分最高的 5 个片段放进提示词。",
        "重排序分数还是一个好用的拒答信号：如果连最高分都很低，知识库里多半没有答案。",
        "在只有 CPU 的机器上，重排序往往是整条流水线里最慢的一环，候选数量需要在效果和延迟之间权衡。",
        "交叉编码器的输入长度也有上限，常见为 512 个 token，问题加片段超出时会被截断。"
        "中英文混合的资料可以选用 bge-reranker-v2-m3 这类多语言重排序模型。",
    ]),
    ("六、引用、拒答与评估", [
        "带引用的回答是 RAG 的核心价值之一。拼装提示词时给每个片段编上号，例如 [1]、[2]，并要求模型在每个论断后标注所依据的编号。",
        "答案生成后，程序把编号映射回文件名和页码（或工作表与行号），供用户点开核对；同时检查模型引用的编号是否真实存在，丢弃越界的引用。",
        "当检索结果与问题明显不相关时，系统应当拒答，例如回复“知识库中没有找到相关内容”，而不是放任模型凭记忆发挥。"
        "拒答阈值可以基于重排序分数设定，再用一组已知无答案的问题来校准。",
        "评估 RAG 要分两层。检索层常用 Recall@k（前 k 个结果里是否包含正确片段）和 MRR（平均倒数排名）；"
        "生成层关注答案是否正确、是否忠实于所引用的片段（faithfulness），以及没有答案时是否正确拒答。",
        "MRR 的算法很直观：正确片段排在第 1 位记 1 分，排在第 2 位记 0.5 分，排在第 4 位记 0.25 分，没有找到记 0 分，再对所有问题取平均。",
        "建议维护一份带标准证据的问题集，每次调整切块方式、嵌入模型或提示词之后都完整重跑一遍，用数字而不是感觉来判断改动的好坏。",
    ]),
    ("七、上线前的检查清单", [
        "检索不到明明存在的内容时，先确认文件是否真的入库、文字层能否提取，再看切块是否把答案拆散到了两个相邻的块里。",
        "回答正确但引用错位，常见原因是片段在拼装提示词之后又被重新排序，编号与原文因此对不上。编号应在最终顺序确定之后再分配。",
        "端到端延迟的主要来源依次是：生成模型的解码、重排序、查询向量的计算。为生成设置合理的 max_tokens，"
        "并缓存高频问题的检索结果，可以明显缩短用户的等待时间。",
        "索引文件应当与入库时所用嵌入模型的名称和向量维度一起保存。服务启动时校验这两项，可以避免因换错模型而导致检索结果整体失真。",
        "离线部署最大的好处是数据不出本机。即便如此，日志里也不应记录完整的文档内容和用户问题，至少要做脱敏处理，并定期清理。",
        "最后，准备一组“知识库里没有答案”的问题，确认系统会老老实实地拒答，而不是编出一个听起来很像样的答案。",
    ]),
]

FONT_CANDIDATES = [
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
]


def _pdf_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    for font_path, index in FONT_CANDIDATES:
        if Path(font_path).exists():
            pdfmetrics.registerFont(TTFont("CJK", font_path, subfontIndex=index))
            return "CJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def write_pdf(path: Path) -> None:
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    font = _pdf_font()
    title = ParagraphStyle("title", fontName=font, fontSize=20, leading=28, spaceAfter=6)
    subtitle = ParagraphStyle("subtitle", fontName=font, fontSize=10, leading=15, spaceAfter=14)
    heading = ParagraphStyle("heading", fontName=font, fontSize=15, leading=22, spaceBefore=4, spaceAfter=10)
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=19, spaceAfter=9, wordWrap="CJK")

    story = [Paragraph(escape(PDF_TITLE), title), Paragraph(escape(PDF_SUBTITLE), subtitle)]
    for i, (head, paragraphs) in enumerate(PDF_PAGES):
        if i:
            story.append(PageBreak())
        story.append(Paragraph(escape(head), heading))
        story.append(Spacer(1, 2))
        story.extend(Paragraph(escape(p), body) for p in paragraphs)

    doc = SimpleDocTemplate(
        str(path), pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm, topMargin=25 * mm, bottomMargin=25 * mm,
        title=PDF_TITLE, author=AUTHOR, subject="RAG pipeline, chunking, embeddings, hybrid search, reranking",
        creator="data/make_samples.py", invariant=1,
    )
    doc.build(story)


# --------------------------------------------------------------------------------------------------------
# glossary.xlsx
# --------------------------------------------------------------------------------------------------------

GLOSSARY = [
    ("术语", "English", "解释"),
    ("大语言模型", "Large Language Model (LLM)", "在海量文本上训练、以预测下一个 token 为基本任务的神经网络，参数量一般在十亿级以上。"),
    ("词元", "Token", "模型处理文本的最小单位，可以是一个字、一个词或词的一部分；计费和长度限制都按它计算。"),
    ("分词器", "Tokenizer", "把文本切成 token 并映射为整数编号的组件，常用 BPE 或 SentencePiece 算法训练词表。"),
    ("Transformer", "Transformer", "2017 年提出的基于自注意力的神经网络架构，是当今主流大模型的共同基础。"),
    ("自注意力", "Self-Attention", "让序列中每个位置按相关程度加权汇总其他位置信息的机制，计算量随序列长度平方增长。"),
    ("自回归生成", "Autoregressive Generation", "每次预测一个 token 并把它接回输入末尾，循环往复直到结束的生成方式。"),
    ("参数", "Parameter", "模型通过训练学到的权重数值；名称里的 7B 表示约 70 亿个参数。"),
    ("预训练", "Pre-training", "在大规模无标注文本上用自监督目标训练模型，使其获得通用语言能力的阶段，耗费算力最多。"),
    ("微调", "Fine-tuning", "以预训练模型为起点，用特定任务或领域的数据继续训练，调整模型的行为。"),
    ("指令微调", "Instruction Tuning (SFT)", "用“指令—回答”对做有监督微调，让基础模型学会理解并遵循用户指令。"),
    ("人类反馈强化学习", "RLHF", "先用人类偏好排序数据训练奖励模型，再用 PPO 等强化学习算法优化语言模型，使输出更符合人类偏好。"),
    ("低秩适配", "LoRA (Low-Rank Adaptation)", "冻结原有权重、只训练旁路低秩矩阵的参数高效微调方法，可训练参数通常不到 1%。"),
    ("量化", "Quantization", "用 8 位、4 位等更低位宽表示权重，以缩小模型体积、降低内存占用并加快推理。"),
    ("GGUF", "GGUF", "llama.cpp 使用的单文件模型格式，把权重、分词器和元数据打包在一起。"),
    ("上下文窗口", "Context Window", "一次推理中输入与输出 token 总数的上限，超出部分必须截断或丢弃。"),
    ("KV 缓存", "KV Cache", "保存已处理 token 的键（K）和值（V）向量，避免生成时重复计算；占用随上下文长度线性增长。"),
    ("温度", "Temperature", "在 softmax 之前用来除 logits 的系数，数值越高输出越随机，越低越确定。"),
    ("核采样", "Top-p / Nucleus Sampling", "只在累计概率刚好达到 p 的最小候选集合中抽样的解码策略。"),
    ("提示词", "Prompt", "提供给模型的全部输入文本，包括系统提示、示例和用户问题。"),
    ("少样本提示", "Few-shot Prompting", "在提示词中放入若干示范，引导模型模仿其格式与风格，无需更新权重。"),
    ("思维链", "Chain-of-Thought (CoT)", "引导模型先写出中间推理步骤再给出结论的提示方法，对数学和多步推理任务尤其有效。"),
    ("幻觉", "Hallucination", "模型输出流畅却与事实或给定材料不符的内容，分为事实性幻觉和忠实性幻觉。"),
    ("嵌入", "Embedding", "把文本映射为稠密向量的表示方法，语义相近的文本在向量空间中距离更近。"),
    ("检索增强生成", "Retrieval-Augmented Generation (RAG)", "先从外部资料中检索相关片段，再让模型依据这些片段作答的方法。"),
    ("混合专家", "Mixture of Experts (MoE)", "由门控网络为每个 token 挑选少数专家子网络参与计算的稀疏架构，代表作有 Mixtral 8x7B。"),
    ("涌现能力", "Emergent Abilities", "模型规模超过某个阈值后才显现、小模型身上观察不到的能力，例如多步推理。"),
    ("文本块", "Chunk", "文档切分后用于检索的最小单元，通常带有来源文件、页码或标题路径等定位信息。"),
    ("余弦相似度", "Cosine Similarity", "两个向量夹角的余弦值，取值在 -1 到 1 之间；向量归一化后等于内积。"),
    ("BM25", "Okapi BM25", "基于词频、逆文档频率和文档长度的关键词相关性打分函数，常用参数 k1=1.2、b=0.75。"),
    ("倒数排名融合", "Reciprocal Rank Fusion (RRF)", "按名次合并多路检索结果的方法，每路贡献 1/(k+名次)，k 通常取 60。"),
    ("重排序", "Reranking", "用交叉编码器对初步召回的候选逐一打分、重新排序的第二阶段检索步骤。"),
]

SAMPLING = [
    ("参数", "默认值", "取值范围", "说明"),
    ("temperature", 0.2, "0–2", "除 logits 的缩放系数；越低越确定，为 0 时等同贪心解码。"),
    ("top_p", 0.9, "0–1", "核采样阈值；设为 1 表示不截断候选。"),
    ("top_k", 40, "≥0 的整数", "只保留概率最高的 k 个候选；设为 0 表示不启用。"),
    ("min_p", 0.05, "0–1", "丢弃概率低于“最高概率 × min_p”的候选，随分布自适应截断。"),
    ("repeat_penalty", 1.1, "≥1", "压低已出现过的 token 的分数；等于 1 表示不惩罚。"),
    ("presence_penalty", 0, "-2–2", "只要 token 出现过就扣一次分，鼓励引入新话题。"),
    ("frequency_penalty", 0, "-2–2", "按出现次数累计扣分，抑制逐字重复。"),
    ("max_tokens", 512, "1 至上下文剩余长度", "单次回答最多生成的 token 数，达到后强制停止。"),
    ("seed", 42, "任意整数", "固定随机种子，相同输入和参数下得到相同输出。"),
]
SAMPLING_NOTE = "注：默认值为本知识库问答服务的示例配置，仅供演示；各推理框架的出厂默认值并不相同。"

# (category, format, average bits per weight). Sizes are computed: 1.5e9 parameters x bits / 8, in GB (1e9 bytes).
QUANT_PARAMS_B = 1.5
QUANT = [
    ("浮点", "F32", 32, "单精度浮点，训练时常用，推理时很少直接使用。"),
    ("浮点", "F16", 16, "半精度浮点，通常作为衡量量化损失的“原始质量”基准。"),
    ("浮点", "BF16", 16, "指数位与 F32 相同、尾数更短的 16 位格式，数值范围大，不易溢出。"),
    ("GGUF 量化", "Q8_0", 8.5, "每 32 个权重一组、共享一个缩放系数的 8 位量化，质量几乎无损。"),
    ("GGUF 量化", "Q6_K", 6.56, "K-quant 6 位量化，与 F16 的差距通常难以察觉。"),
    ("GGUF 量化", "Q5_K_M", 5.67, "K-quant 5 位混合量化，比 Q4_K_M 稍大、质量稍好。"),
    ("GGUF 量化", "Q4_K_M", 4.85, "最常用的折中选择，平均约 4.5–5 位/权重；部分敏感张量使用 Q6_K 保存。"),
    ("GGUF 量化", "Q4_0", 4.5, "早期的 4 位量化，每 32 个权重共享一个 FP16 缩放系数，质量不如 Q4_K_M。"),
    ("GGUF 量化", "Q3_K_M", 3.91, "体积更小，但质量下降开始变得明显，只建议在内存紧张时使用。"),
]
QUANT_HEADER = ("类别", "格式", "平均位宽（bits/权重）", "估算大小（1.5B 模型，GB）", "说明")
QUANT_NOTE = "注：估算大小 = 1.5 × 10⁹ 参数 × 平均位宽 ÷ 8，只计权重；实际 GGUF 文件还包含元数据，且嵌入层常以更高精度保存。"


def write_xlsx(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    wb = Workbook()

    ws = wb.active
    ws.title = "术语"
    for row in GLOSSARY:
        ws.append(list(row))
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 34
    ws.column_dimensions["C"].width = 80

    ws2 = wb.create_sheet("采样参数")
    for row in SAMPLING:
        ws2.append(list(row))
    note_row = ws2.max_row + 2
    ws2.cell(row=note_row, column=1, value=SAMPLING_NOTE)
    ws2.merge_cells(start_row=note_row, start_column=1, end_row=note_row, end_column=4)
    ws2.cell(row=note_row, column=1).alignment = wrap
    ws2.column_dimensions["A"].width = 20
    ws2.column_dimensions["B"].width = 10
    ws2.column_dimensions["C"].width = 20
    ws2.column_dimensions["D"].width = 64
    for r in range(2, len(SAMPLING) + 1):
        ws2.cell(row=r, column=2).number_format = "General"

    ws3 = wb.create_sheet("量化格式")
    ws3.append(list(QUANT_HEADER))
    for category, fmt, bits, note in QUANT:
        size = round(QUANT_PARAMS_B * bits / 8, 2)
        ws3.append([category, fmt, bits, size, note])
    # Merge the category column over each run of equal values (vertical merged cells).
    start = 2
    for r in range(3, len(QUANT) + 3):
        if r == len(QUANT) + 2 or ws3.cell(row=r, column=1).value != ws3.cell(row=start, column=1).value:
            if r - 1 > start:
                ws3.merge_cells(start_row=start, start_column=1, end_row=r - 1, end_column=1)
                ws3.cell(row=start, column=1).alignment = Alignment(vertical="center")
            start = r
    note_row = ws3.max_row + 2
    ws3.cell(row=note_row, column=1, value=QUANT_NOTE)
    ws3.column_dimensions["A"].width = 12
    ws3.column_dimensions["B"].width = 10
    ws3.column_dimensions["C"].width = 22
    ws3.column_dimensions["D"].width = 26
    ws3.column_dimensions["E"].width = 70

    for sheet in (ws, ws2, ws3):
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"

    wb.properties.creator = AUTHOR
    wb.properties.title = "LLM 术语表"
    wb.properties.created = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_normalize_zip(buf.getvalue()))


# --------------------------------------------------------------------------------------------------------
# models.csv: facts from model cards; the size column is an estimate by the formula in its header.
# --------------------------------------------------------------------------------------------------------

Q4KM_BITS = 4.85
MODELS_HEADER = ["模型", "发布方", "发布时间", "参数量（B）", "上下文长度（token）", "许可证",
                 "Q4_K_M估算大小（GB，参数量×4.85÷8）", "备注"]
MODELS = [
    ("GPT-2 XL", "OpenAI", "2019-11", 1.5, 1024, "MIT", "GPT-2 系列中最大的版本，分阶段公开发布"),
    ("Llama 2 7B", "Meta", "2023-07", 6.7, 4096, "Llama 2 Community License", "Llama 2 系列最小规格，另有 13B 和 70B"),
    ("Mistral 7B", "Mistral AI", "2023-09", 7.3, 8192, "Apache-2.0", "使用分组查询注意力和滑动窗口注意力（窗口 4096）"),
    ("Mixtral 8x7B", "Mistral AI", "2023-12", 46.7, 32768, "Apache-2.0",
     "稀疏混合专家：8 个专家中每个 token 激活 2 个，约 12.9B 激活参数；内存按总参数计"),
    ("TinyLlama 1.1B", "TinyLlama 项目", "2024-01", 1.1, 2048, "Apache-2.0", "沿用 Llama 2 架构，在约 3 万亿 token 上预训练"),
    ("Llama 3 8B", "Meta", "2024-04", 8.0, 8192, "Meta Llama 3 Community License", "分词器词表扩大到约 128K"),
    ("Phi-3-mini-4k", "Microsoft", "2024-04", 3.8, 4096, "MIT", "小模型路线，主打手机等端侧设备"),
    ("Phi-3-mini-128k", "Microsoft", "2024-04", 3.8, 131072, "MIT", "与 4k 版规模相同，用 LongRoPE 扩展上下文"),
    ("Gemma 2 2B", "Google", "2024-07", 2.6, 8192, "Gemma Terms of Use", "Gemma 2 系列最小规格"),
    ("Llama 3.1 8B", "Meta", "2024-07", 8.0, 131072, "Llama 3.1 Community License", "上下文从 Llama 3 的 8K 扩展到 128K"),
    ("Qwen2.5-0.5B-Instruct", "阿里巴巴通义千问团队", "2024-09", 0.49, 32768, "Apache-2.0", "适合在 CPU 上做功能演示"),
    ("Qwen2.5-1.5B-Instruct", "阿里巴巴通义千问团队", "2024-09", 1.54, 32768, "Apache-2.0", "中英文能力均衡的小模型"),
    ("Qwen2.5-7B-Instruct", "阿里巴巴通义千问团队", "2024-09", 7.61, 131072, "Apache-2.0", "原生 32K 上下文，借助 YaRN 扩展到 128K"),
    ("DeepSeek-V3", "深度求索（DeepSeek）", "2024-12", 671, 131072, "DeepSeek Model License",
     "混合专家架构，每个 token 激活约 37B 参数"),
]


def write_csv(path: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MODELS_HEADER)
    for name, org, date, params, ctx, lic, note in MODELS:
        size = round(params * Q4KM_BITS / 8, 1)
        writer.writerow([name, org, date, _num(params), ctx, lic, _num(size), note])
    path.write_text(buf.getvalue(), encoding="utf-8")


def _num(x: float) -> str:
    return f"{x:g}"


# --------------------------------------------------------------------------------------------------------
# faq.md and intro.txt
# --------------------------------------------------------------------------------------------------------

FAQ = """\
# 大模型常见问题（FAQ）

这份 FAQ 收集了团队内部被问得最多的问题，回答力求简短；更完整的解释见《大语言模型实用手册》和《RAG 实践指南》。

## 温度调高或调低分别会怎样？

温度会在 softmax 之前缩放 logits。调低温度，概率分布变尖，模型几乎只挑最有把握的词，回答稳定但略显呆板；调高温度，分布变平，措辞更多样，出错和跑题的机会也随之增加。事实类问答建议把温度设在 0.3 以下。

## top-p 设成 0.9 是什么意思？

意思是每一步只在“累计概率刚好达到 90% 的那一小撮候选词”里抽样，剩下约 10% 概率的长尾候选直接丢弃。这样既保留了一定的多样性，又能挡住那些离谱的低概率词。

## 为什么同一个问题每次的回答都不一样？

因为生成过程默认带有随机采样。想要稳定的输出，可以把温度设为 0（贪心解码），或者固定随机种子 seed。注意：即使种子相同，换了硬件、线程数或推理框架版本，结果也可能出现细微差别。

## 模型为什么会一本正经地胡说八道？

这就是幻觉。语言模型的训练目标是生成“看起来合理”的下一个词，而不是核实事实；遇到训练数据里少见的冷门知识，它往往会拼凑出一个似是而非的答案。缓解办法是给它可靠的参考资料（RAG），要求它标注出处，并允许它回答“不知道”。

## 上下文窗口满了会发生什么？

输入加输出的 token 总数不能超过窗口上限。超出后，不同系统的处理方式不同：有的直接报错，有的从最早的对话轮次开始截断。多轮对话中，模型“忘记”开头说过的话，往往就是因为那部分内容已经被挤出了窗口。

## 中文一个字大概算几个 token？

取决于分词器。中文词表较大的模型里，一个常用汉字往往就是一个 token，常见词语甚至两三个字合成一个 token；中文词表较小的模型里，一个汉字可能被拆成两到三个字节级 token。估算费用时，可以粗略按每个汉字 1 到 2 个 token 计算。

## 什么时候该微调，什么时候该用 RAG？

一个简单的判断标准：想让模型“知道”新东西，用 RAG；想让模型“换一种做事方式”，用微调。公司制度、产品手册这类经常更新、需要给出出处的资料，放进知识库做 RAG；固定的报告格式、特定的客服语气，更适合用 LoRA 做轻量微调。

## 写提示词有哪些实用技巧？

先说明角色和任务，再列出约束条件，最后给出输出格式的样例。复杂任务拆成几个小步骤，让模型按步骤作答；需要模仿某种风格时，附上两三个示范比任何形容词都管用。提示词改动后，用同一批测试问题对比效果，不要只凭一两次印象下结论。

## 7B 模型能在笔记本电脑上运行吗？

可以。以 Q4_K_M 量化的 7B 模型为例，权重文件大约 4 GB 出头，加上 KV 缓存，8 GB 内存的机器勉强够用，16 GB 会从容得多。没有独立显卡时，llama.cpp 可以纯 CPU 推理，只是生成速度会慢一些。

## 向量检索和关键词检索哪个更好？

各有所长。向量检索能理解“换个说法”的问题，关键词检索擅长精确匹配型号、编号和专有名词。两者结合（混合检索），再用 RRF 融合排名，通常比任何单独一路都稳定。

## system prompt 和普通提示词有什么区别？

系统提示词在对话开始前设定模型的身份、规则和边界，对整段对话持续生效；用户提示词则是每一轮具体的提问。把“只根据资料回答”“回答使用中文”这类长期规则写进系统提示词，比每轮重复叮嘱更可靠。

## 嵌入向量到底是什么？

嵌入是一串固定长度的浮点数，例如 384 个或 768 个数字，用来表示一段文字的意思。单独看某一个数字没有意义，但意思相近的两段文字，它们的向量在空间中距离很近。知识库检索正是利用这一点，把问题也变成向量，去找离它最近的文本块。

## LoRA 微调大概需要多少显存？

取决于模型大小，以及底座模型是否量化。QLoRA 论文在单张 48 GB 显卡上微调了 65B 模型；对 7B 模型来说，用 QLoRA 的话一张 12 GB 到 16 GB 的消费级显卡通常就能完成。

## 为什么知识库有时回答“没有找到相关内容”？

这是有意设计的拒答。当检索到的片段与问题的相关性分数都低于阈值时，系统宁可坦白没有答案，也不让模型凭记忆编造。如果你确定资料里有答案，可以换一种问法，或者检查对应文件是否已经入库。

## What is the difference between top-k and top-p?

Top-k always keeps a fixed number of candidate tokens, for example the 40 most likely ones. Top-p (nucleus sampling) keeps the smallest set of tokens whose cumulative probability reaches p, so the candidate pool shrinks when the model is confident and grows when it is unsure.

## Does a long context window make RAG unnecessary?

Not really. Filling a 128K window with every document is slow and expensive, and models tend to overlook facts buried in the middle of a long prompt. Retrieval keeps the prompt short and focused, and it tells you exactly which passage an answer came from.

## How much quality do I lose with 4-bit quantization?

Usually less than people expect. On most benchmarks a Q4_K_M model stays close to its FP16 original, while Q3 and Q2 formats degrade noticeably. Small models suffer more than large ones, so for a 0.5B or 1.5B model it can be worth trying Q5_K_M or Q8_0.

## Why does this knowledge base show citations?

Every answer is grounded in retrieved passages, and each claim carries a bracketed number such as [1] that points back to a file and a page, sheet row or heading. If no passage is relevant enough, the assistant says so instead of guessing.
"""

INTRO = """\
示例知识库说明

本目录是离线问答系统的演示知识库，共包含六个文件：
- llm-handbook.docx：《大语言模型实用手册》，介绍 token、采样参数、上下文窗口、微调、幻觉与量化。
- rag-guide.pdf：《RAG 实践指南》，共 7 页，每页讲一个环节：概览、切块、嵌入、混合检索、重排序、引用与评估、上线检查清单。
- glossary.xlsx：术语表，含“术语”“采样参数”“量化格式”三个工作表。
- models.csv：十几个开源模型的参数量、上下文长度和许可证。
- faq.md：常见问题解答，中英文混合。
- intro.txt：即本文件。

所有文字均为本项目原创。models.csv 和 glossary.xlsx 中标注为“估算”的大小按公式计算，只用于演示，不代表真实文件体积；
“采样参数”表里的默认值是本系统的示例配置。资料版本：2025 年 1 月。
"""


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


# --------------------------------------------------------------------------------------------------------


def _normalize_zip(data: bytes) -> bytes:
    """Rewrite an OOXML zip with fixed member timestamps and pinned core-property dates."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            blob = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = blob.decode("utf-8")
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rf"\g<1>{stamp}\g<2>", text)
                blob = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, blob)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "samples")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_docx(out / "llm-handbook.docx")
    write_pdf(out / "rag-guide.pdf")
    write_xlsx(out / "glossary.xlsx")
    write_csv(out / "models.csv")
    write_text(out / "faq.md", FAQ)
    write_text(out / "intro.txt", INTRO)
    for p in sorted(out.iterdir()):
        print(f"{p.stat().st_size:>8}  {p}")


if __name__ == "__main__":
    main()
