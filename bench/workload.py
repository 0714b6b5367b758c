"""Deterministic workload: N articles of ~25 paragraphs, mixed Chinese/English, realistic lengths,
with each site's boilerplate repeated across its articles.
`python bench/workload.py N OUT.jsonl [PARAGRAPHS_PER_ARTICLE]`."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SITES = ["news.example.cn", "tech.example.com", "daily.example.org", "blog.example.net",
         "finance.example.cn", "science.example.com", "city.example.cn", "review.example.org"]
ZH_WORDS = ("我们 研究 数据 表明 城市 政府 企业 市场 技术 发展 问题 认为 报告 增长 影响 "
            "电池 回收 能源 交通 教育 医疗 专家 指出 根据 统计 去年 今年 百分之 显著 提高").split()
EN_WORDS = ("the study shows that city policy market growth data report experts say energy "
            "battery transport model open-source GPU benchmark results percent increase "
            "according to survey evidence claim because however therefore").split()


def _sentence(rng: random.Random, chinese: bool) -> str:
    if chinese:
        words = rng.choices(ZH_WORDS, k=rng.randint(8, 30))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(EN_WORDS))
        return "".join(words) + rng.choice("。！？")
    words = rng.choices(EN_WORDS, k=rng.randint(8, 25))
    return " ".join(words).capitalize() + "."


def _boilerplate(site: str) -> tuple[list[str], list[str]]:
    head = [f"首页 | 新闻 | 科技 | {site}", "当前位置：首页 > 正文"]
    tail = ["上一篇：城市更新的下一步", "下一篇：Open-source models and the GPU shortage",
            "相关阅读：数据中心能耗调查", f"下载{site} App，阅读更多精彩内容",
            "发表评论 · 0 条评论", f"© 2026 {site} 版权所有，未经授权禁止转载"]
    return head, tail


def articles(count: int, seed: int = 7, paragraphs: int = 25):
    """Yield `count` article records; the same seed always gives the same bytes."""
    rng = random.Random(seed)
    for number in range(count):
        site = SITES[number % len(SITES)]
        head, tail = _boilerplate(site)
        chinese = rng.random() < 0.7
        body_length = max(1, paragraphs - len(head) - len(tail))
        body = [" ".join(_sentence(rng, chinese) for _ in range(rng.randint(1, 4)))
                for _ in range(body_length)]
        yield {"id": f"bench-{number:07d}", "title": _sentence(rng, chinese)[:60],
               "url": f"https://{site}/a/{number}", "meta": {"site": site},
               "paragraphs": head + body + tail}


def write(count: int, path: Path, seed: int = 7, paragraphs: int = 25) -> int:
    """Write the workload as jsonl; returns the number of paragraphs."""
    total = 0
    with open(path, "w", encoding="utf-8") as out:
        for record in articles(count, seed, paragraphs):
            total += len(record["paragraphs"])
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return total


if __name__ == "__main__":
    per_article = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    print(write(int(sys.argv[1]), Path(sys.argv[2]), paragraphs=per_article), "paragraphs")
