"""The contract suite every Recommender passes, shipped for plug-in authors (needs ``pytest``).

In a plug-in's tests::

    # conftest.py
    pytest_plugins = ["llm4rec.testing.fixtures"]      # ml100k, small_split, eval_users, small_catalog_split

    # test_my_model.py
    from llm4rec.testing import RecommenderContract

    class TestMyModel(RecommenderContract):
        def make_model(self):
            return MyModel(factors=8)

The suite fits once per class on real MovieLens-100K users and checks scoring, candidates,
recommend, errors, persistence (``save``/``load`` and ``state_dict``/``from_state``), costs and
determinism; what applies is read from the model's :meth:`~llm4rec.models.base.Recommender.tags`.
Models that pay one language-model evaluation per scored item derive from
:class:`SmallCatalogContract` instead: the same checks over a 40-item catalog
(fixture ``small_catalog_split``).
"""

from llm4rec.testing.contract import RecommenderContract, SmallCatalogContract

__all__ = ["RecommenderContract", "SmallCatalogContract"]
