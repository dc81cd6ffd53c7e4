"""Public building blocks of the sequential models, for models built on them outside this package
(UniSRec, plug-ins): the padding token, the shared config, the base class, the transformer stack
and the windowing helpers. They are defined in the package-private ``_seq`` module, which SASRec,
BERT4Rec and GRU4Rec import directly; other packages import them from here.
"""

from llm4rec.models.classic._seq import (
    PAD,
    SequenceConfig,
    SequenceNet,
    SequentialRecommender,
    TransformerBlock,
    TransformerEncoder,
    gather_left_padded,
    window_bounds,
)

__all__ = ["PAD", "SequenceConfig", "SequenceNet", "SequentialRecommender", "TransformerBlock", "TransformerEncoder",
           "gather_left_padded", "window_bounds"]
