"""Public base of the PyTorch models, for models built on it outside this package (genrec,
plug-ins): the shared config (epochs, batch size, optimiser, early stopping), the base class
with its training loop, the minibatch type and the seeded minibatch sampler. They are defined in
the package-private ``_torch`` module; other packages import them from here.
"""

from llm4rec.models.classic._torch import Batch, TorchConfig, TorchRecommender, minibatches

__all__ = ["Batch", "TorchConfig", "TorchRecommender", "minibatches"]
