"""llm4rec: recommendation with large language models on one data and evaluation contract."""

from llm4rec.errors import Llm4RecError

__version__ = "0.1.0"
__all__ = ["Llm4RecError", "__version__"]
