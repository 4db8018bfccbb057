"""Translation backends behind one interface: ``translate(texts, source_lang, target_lang) -> list[str]``.

Three backends, chosen by ``TranslateConfig.backend``:

* ``causal_lm`` — any causal LM prompted with a few-shot prompt of e-commerce queries (demo: the bundled
  Gemma-3-270M base). Greedy, batched with left padding, stops at the first newline.
* ``seq2seq`` — an encoder-decoder translation model by name or path (Marian, NLLB, M2M100, MADLAD-400). Each
  family names the target language differently; :class:`LanguageCodes` finds the convention in the tokenizer's
  vocabulary instead of trusting the model's name.
* ``vllm`` — Seed-X-PPO-7B (or any completion model) on vLLM through Ray's own ``ray.data.llm``. vLLM runs a whole
  Ray Data stage of its own, so this backend is a dataset transform (:func:`build_vllm_translator`), not an
  in-process object; ``engine_udf`` swaps the vLLM engine for a fake on machines without CUDA.

Language codes are ecomrel's (``vn`` for Vietnamese); each backend converts them to what its model expects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from ecomrel.languages import LANGUAGES, name, to_iso
from ecomrel.vllm_engine import merge_engine_kwargs, use_engine_udf

if TYPE_CHECKING:  # translate imports this module: the config class is only a type here
    from .translate import TranslateConfig

log = logging.getLogger(__name__)


class Translator(Protocol):
    """Translate a batch of texts from one language into another, one output per input, in order."""

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]: ...


def _check_languages(source_lang: str, target_lang: str) -> None:
    for code in (source_lang, target_lang):
        if code not in LANGUAGES:
            raise KeyError(f"unknown language code {code!r}; known: {sorted(LANGUAGES)}")


def first_line(text: str) -> str:
    """The text up to its first line break, stripped: completion models keep going after the answer."""
    return text.split("\n", 1)[0].strip()


# --------------------------------------------------------------------------------------------- few-shot prompt

#: The same four e-commerce queries in every ecomrel language (row i means the same thing in each language).
#: Kept short and typical of search logs: product, attributes, a brand name and a model number left untranslated.
FEW_SHOT: dict[str, tuple[str, ...]] = {
    "ar": ("أحذية جري نسائية", "سماعات بلوتوث لاسلكية", "زجاجة مياه من الفولاذ المقاوم للصدأ", "جراب ايفون 13"),
    "de": ("Laufschuhe für Damen", "kabellose Bluetooth-Kopfhörer", "Edelstahl Trinkflasche", "iphone 13 Hülle"),
    "en": ("women's running shoes", "wireless bluetooth headphones", "stainless steel water bottle", "iphone 13 case"),
    "es": (
        "zapatillas de running para mujer",
        "auriculares bluetooth inalámbricos",
        "botella de agua de acero inoxidable",
        "funda para iphone 13",
    ),
    "fr": (
        "chaussures de course pour femme",
        "écouteurs bluetooth sans fil",
        "bouteille d'eau en acier inoxydable",
        "coque iphone 13",
    ),
    "id": ("sepatu lari wanita", "headphone bluetooth nirkabel", "botol air stainless steel", "casing iphone 13"),
    "it": (
        "scarpe da corsa da donna",
        "cuffie bluetooth senza fili",
        "borraccia in acciaio inox",
        "custodia iphone 13",
    ),
    "ja": ("レディース ランニングシューズ", "ワイヤレス bluetooth イヤホン", "ステンレス 水筒", "iphone 13 ケース"),
    "ko": ("여성 러닝화", "무선 블루투스 헤드폰", "스테인리스 물병", "아이폰 13 케이스"),
    "pl": (
        "damskie buty do biegania",
        "bezprzewodowe słuchawki bluetooth",
        "butelka na wodę ze stali nierdzewnej",
        "etui na iphone 13",
    ),
    "pt": (
        "tênis de corrida feminino",
        "fones de ouvido bluetooth sem fio",
        "garrafa de água de aço inoxidável",
        "capinha iphone 13",
    ),
    "th": ("รองเท้าวิ่งผู้หญิง", "หูฟังบลูทูธไร้สาย", "ขวดน้ำสแตนเลส", "เคสไอโฟน 13"),
    "vn": ("giày chạy bộ nữ", "tai nghe bluetooth không dây", "bình nước thép không gỉ", "ốp lưng iphone 13"),
}


def few_shot_prompt(text: str, source_lang: str, target_lang: str) -> str:
    """A completion prompt a base LM continues with the translation of ``text`` on one line.

    ``Spanish: ...`` / ``German: ...`` pairs are the format base models have seen most in parallel text; the model
    answers after the last ``German:`` and the newline that follows ends the answer.
    """
    _check_languages(source_lang, target_lang)
    src, tgt = name(source_lang), name(target_lang)
    shots = "".join(
        f"{src}: {a}\n{tgt}: {b}\n\n" for a, b in zip(FEW_SHOT[source_lang], FEW_SHOT[target_lang], strict=True)
    )
    query = " ".join(text.split())  # a line break inside the query would end the answer before it starts
    return f"Translate {src} e-commerce search queries into {tgt}.\n\n{shots}{src}: {query}\n{tgt}:"


def _torch_setup(num_cpus: float, num_gpus: float) -> str:
    """Pick the device; on CPU pin torch to the cores Ray reserved so co-located actors do not oversubscribe."""
    import torch

    if num_gpus > 0:
        return "cuda"
    torch.set_num_threads(max(1, int(num_cpus)))
    return "cpu"


def _length_order(texts: Sequence[str]) -> list[int]:
    """Indices sorted by length, so each generation batch pads little."""
    return sorted(range(len(texts)), key=lambda i: len(texts[i]))


class CausalLMTranslator:
    """A causal LM prompted with :func:`few_shot_prompt`; greedy decoding, batched with left padding.

    Left padding puts every prompt's last token at the same position, so one ``generate`` call continues all rows;
    generation stops for a row at its first newline (``stop_strings``) and for the batch when all rows stopped.
    """

    def __init__(
        self, model: str, max_new_tokens: int = 48, batch_size: int = 16, dtype: str = "float32", device: str = "cpu"
    ) -> None:
        from transformers import GenerationConfig

        from ecomrel.models import load_causal_lm, load_tokenizer

        self.tokenizer = load_tokenizer(model)
        self.tokenizer.padding_side = "left"
        self.model = load_causal_lm(model, dtype=dtype).to(device).eval()
        self.device = device
        self.batch_size = batch_size
        self.generation = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,
            stop_strings=["\n"],
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id,
        )

    @classmethod
    def from_config(cls, cfg: TranslateConfig) -> CausalLMTranslator:
        device = _torch_setup(cfg.num_cpus, cfg.num_gpus)
        return cls(cfg.model, cfg.max_new_tokens, cfg.batch_size, dtype=cfg.dtype, device=device)

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]:
        import torch

        prompts = [few_shot_prompt(t, source_lang, target_lang) for t in texts]
        out: list[str] = [""] * len(texts)
        order = _length_order(prompts)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            enc = self.tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True).to(self.device)
            with torch.inference_mode():
                ids = self.model.generate(**enc, generation_config=self.generation, tokenizer=self.tokenizer)
            new = self.tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
            for i, text in zip(rows, new, strict=True):
                out[i] = first_line(text)
        return out


# --------------------------------------------------------------------------------------------- seq2seq

#: FLORES-200 codes (NLLB).
NLLB_CODES = {
    "ar": "arb_Arab",
    "de": "deu_Latn",
    "en": "eng_Latn",
    "es": "spa_Latn",
    "fr": "fra_Latn",
    "id": "ind_Latn",
    "it": "ita_Latn",
    "ja": "jpn_Jpan",
    "ko": "kor_Hang",
    "pl": "pol_Latn",
    "pt": "por_Latn",
    "th": "tha_Thai",
    "vn": "vie_Latn",
}

#: ISO 639-3 codes, which multi-target OPUS-MT (Marian) models use in ``>>xxx<<`` when no 2-letter token exists.
_ISO_639_3 = {
    "ar": ("ara", "arb"),
    "de": ("deu",),
    "en": ("eng",),
    "es": ("spa",),
    "fr": ("fra",),
    "id": ("ind",),
    "it": ("ita",),
    "ja": ("jpn",),
    "ko": ("kor",),
    "pl": ("pol",),
    "pt": ("por",),
    "th": ("tha",),
    "vn": ("vie",),
}


class LanguageCodes:
    """How a seq2seq translation model is told the target (and source) language.

    ``nllb``     FLORES-200 tokens: ``tokenizer.src_lang = "spa_Latn"``, decoder forced to start with ``deu_Latn``.
    ``m2m100``   ``__xx__`` tokens: ``tokenizer.src_lang = "es"``, decoder forced to start with ``__de__``.
    ``marian``   multi-target OPUS-MT: the input starts with ``>>de<<`` (or ``>>deu<<``).
    ``madlad``   MADLAD-400 (T5): the input starts with ``<2de>``.
    ``pair``     a single-pair model (e.g. opus-mt-es-de): nothing to choose; the model *is* the pair.
    """

    def __init__(self, convention: str, vocab: dict[str, int]) -> None:
        self.convention = convention
        self.vocab = vocab

    @classmethod
    def detect(cls, vocab: dict[str, int], model_type: str, model: str = "model") -> LanguageCodes:
        if "spa_Latn" in vocab or "eng_Latn" in vocab:
            return cls("nllb", vocab)
        if "__en__" in vocab or "__es__" in vocab:
            return cls("m2m100", vocab)
        if any(tok.startswith(">>") and tok.endswith("<<") for tok in vocab):
            return cls("marian", vocab)
        if "<2en>" in vocab or "<2es>" in vocab:
            return cls("madlad", vocab)
        if model_type == "marian":
            return cls("pair", vocab)
        raise ValueError(
            f"{model}: cannot tell how this {model_type!r} model selects the target language (no NLLB, M2M100, "
            "OPUS-MT '>>xx<<' or MADLAD '<2xx>' language tokens in its vocabulary)"
        )

    def _need(self, token: str, lang: str) -> str:
        if token not in self.vocab:
            raise ValueError(f"{self.convention} model has no language token {token!r} for {lang!r}")
        return token

    def source_token(self, lang: str) -> str | None:
        """The value for ``tokenizer.src_lang`` (NLLB, M2M100), else None."""
        if self.convention == "nllb":
            return self._need(NLLB_CODES[lang], lang)
        if self.convention == "m2m100":
            self._need(f"__{to_iso(lang)}__", lang)
            return to_iso(lang)
        return None

    def forced_bos_token_id(self, lang: str) -> int | None:
        """The decoder's forced first token (NLLB, M2M100), else None."""
        if self.convention == "nllb":
            return self.vocab[self._need(NLLB_CODES[lang], lang)]
        if self.convention == "m2m100":
            return self.vocab[self._need(f"__{to_iso(lang)}__", lang)]
        return None

    def prefix(self, lang: str) -> str:
        """Text put before every input (Marian multi-target, MADLAD), else empty."""
        if self.convention == "madlad":
            return self._need(f"<2{to_iso(lang)}>", lang) + " "
        if self.convention == "marian":
            for code in (to_iso(lang), *_ISO_639_3[lang]):
                if f">>{code}<<" in self.vocab:
                    return f">>{code}<< "
            raise ValueError(f"marian model has no '>>xx<<' token for {lang!r}")
        return ""


class Seq2SeqTranslator:
    """An encoder-decoder translation model by ``from_pretrained`` name or path; greedy decoding."""

    def __init__(
        self, model: str, max_new_tokens: int = 48, batch_size: int = 16, dtype: str = "float32", device: str = "cpu"
    ) -> None:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        from ecomrel.models import DTYPES

        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model, dtype=DTYPES[dtype]).to(device).eval()
        self.codes = LanguageCodes.detect(self.tokenizer.get_vocab(), self.model.config.model_type, model)
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens

    @classmethod
    def from_config(cls, cfg: TranslateConfig) -> Seq2SeqTranslator:
        device = _torch_setup(cfg.num_cpus, cfg.num_gpus)
        return cls(cfg.model, cfg.max_new_tokens, cfg.batch_size, dtype=cfg.dtype, device=device)

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str) -> list[str]:
        import torch

        _check_languages(source_lang, target_lang)
        src = self.codes.source_token(source_lang)
        if src is not None:
            if not hasattr(self.tokenizer, "src_lang"):
                raise ValueError(f"{self.name}: {self.codes.convention} model but its tokenizer has no src_lang")
            self.tokenizer.src_lang = src  # NLLB / M2M100 tokenizers then add the source-language token
        prefix = self.codes.prefix(target_lang)
        extra: dict[str, Any] = {}
        if (bos := self.codes.forced_bos_token_id(target_lang)) is not None:
            extra["forced_bos_token_id"] = bos
        out: list[str] = [""] * len(texts)
        order = _length_order(texts)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            enc = self.tokenizer(
                [prefix + texts[i] for i in rows], return_tensors="pt", padding=True, truncation=True
            ).to(self.device)
            with torch.inference_mode():
                ids = self.model.generate(
                    **enc, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1, **extra
                )
            for i, text in zip(rows, self.tokenizer.batch_decode(ids, skip_special_tokens=True), strict=True):
                out[i] = text.strip()
        return out


#: In-process backends; ``vllm`` runs as its own Ray Data stage (:func:`build_vllm_translator`).
BACKENDS: dict[str, Callable[[TranslateConfig], Translator]] = {
    "causal_lm": CausalLMTranslator.from_config,
    "seq2seq": Seq2SeqTranslator.from_config,
}


def make_translator(cfg: TranslateConfig) -> Translator:
    """The in-process translator ``cfg.backend`` names."""
    try:
        return BACKENDS[cfg.backend](cfg)
    except KeyError:
        raise ValueError(
            f"backend {cfg.backend!r} is not an in-process translator (have {sorted(BACKENDS)}); "
            "vllm runs through build_vllm_translator"
        ) from None


# --------------------------------------------------------------------------------------------- vLLM (Seed-X)

#: Engine arguments ecomrel sets for the vllm backend; ``cfg.vllm_engine_kwargs`` is applied over them.
VLLM_ENGINE_DEFAULTS: dict[str, Any] = {"max_model_len": 2048, "enable_prefix_caching": True}
_LIGHT_MAP_CPUS = 0.25


def seed_x_prompt(text: str, source_lang: str, target_lang: str) -> str:
    """Seed-X's translation prompt (no chat template): instruction, the text, then the target tag ``<xx>``."""
    _check_languages(source_lang, target_lang)
    query = " ".join(text.split())
    src, tgt = name(source_lang), name(target_lang)
    return f"Translate the following {src} sentence into {tgt}:\n{query} <{to_iso(target_lang)}>"


def _vllm_request(row: dict[str, Any], max_new_tokens: int, text_column: str) -> dict[str, Any]:
    return {
        "prompt": seed_x_prompt(row[text_column], row["source_language"], row["target_language"]),
        # Greedy, as Seed-X's model card recommends; a translation of a query is one line.
        "sampling_params": {
            "temperature": 0.0,
            "max_tokens": max_new_tokens,
            "skip_special_tokens": True,
            "stop": ["\n"],
        },
    }


def _vllm_result(row: dict[str, Any], keep_columns: tuple[str, ...], output_column: str) -> dict[str, Any]:
    out = {col: row[col] for col in keep_columns}
    out[output_column] = first_line(row["generated_text"])
    return out


def build_vllm_translator(
    cfg: TranslateConfig,
    keep_columns: Sequence[str],
    text_column: str = "source_query",
    output_column: str = "translation",
    engine_udf: type | None = None,
):
    """A ``ray.data.llm`` processor: rows with ``text_column``, ``source_language``, ``target_language`` in,
    ``keep_columns`` plus ``output_column`` out.

    Seed-X takes a plain completion prompt, so the chat-template, tokenize and detokenize stages are off and vLLM
    tokenizes and detokenizes itself. Ray sizes each engine replica from ``tensor_parallel_size`` x
    ``pipeline_parallel_size`` GPUs (``cfg.vllm_engine_kwargs``); ``cfg.concurrency`` is the number of replicas.

    ``engine_udf`` replaces the vLLM engine stage's UDF class (a ``vLLMEngineStageUDF`` subclass whose ``llm``
    answers like ``vLLMEngineWrapper``), and with it the engine's GPU reservation: a stand-in engine runs on CPU
    (``ecomrel.vllm_engine.use_engine_udf``, the seam batch scoring uses too).
    It is the injection point for tests on machines without CUDA, where vLLM cannot be installed; everything
    around the engine (Ray's processor, stage plumbing, our prompt and post-processing) runs for real.
    """
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig

    config = vLLMEngineProcessorConfig(
        model_source=cfg.model,
        engine_kwargs=merge_engine_kwargs(VLLM_ENGINE_DEFAULTS, cfg.vllm_engine_kwargs),
        batch_size=cfg.batch_size,
        concurrency=cfg.concurrency,
        chat_template_stage=False,
        tokenize_stage=False,
        detokenize_stage=False,
    )
    processor = build_processor(
        config,
        preprocess=partial(_vllm_request, max_new_tokens=cfg.max_new_tokens, text_column=text_column),
        postprocess=partial(_vllm_result, keep_columns=tuple(keep_columns), output_column=output_column),
        # Prompt formatting and output clean-up are string operations: a whole CPU each would hold cores that the
        # engine replicas and the gate actors downstream need (on a small node the pipeline would stall).
        preprocess_map_kwargs={"num_cpus": _LIGHT_MAP_CPUS},
        postprocess_map_kwargs={"num_cpus": _LIGHT_MAP_CPUS},
    )
    if engine_udf is not None:
        use_engine_udf(processor, engine_udf)
    return processor
