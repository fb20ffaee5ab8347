"""The allow-listed answers of the request form's usage details, with their labels.

Stored values are these short codes; labels are what people read. Countries and languages
come from Babel's CLDR data, so the lists are complete and spelled correctly.
"""

from functools import cache

from babel import Locale

ORGANISATION_TYPES = {
    "commercial_media": "Commercial media (newspaper, magazine, broadcaster, website)",
    "non_profit": "Non-profit or NGO",
    "education": "Education or academic",
    "individual": "Individual",
    "corporate": "Corporate or marketing",
}

MEDIA = {
    "website": "Website",
    "print": "Print (newspaper or magazine)",
    "newsletter": "Newsletter",
    "broadcast": "Broadcast or podcast script",
    "book": "Book or anthology",
    "course_pack": "Course pack",
    "social_media": "Social media",
    "intranet": "Internal use or intranet",
}

AUDIENCE_BANDS = {
    "under_10k": "Under 10,000",
    "10k_100k": "10,000 to 100,000",
    "100k_1m": "100,000 to 1 million",
    "1m_10m": "1 million to 10 million",
    "over_10m": "Over 10 million",
}

TERRITORIES = {
    "country": "One country",
    "region": "A region",
    "worldwide": "Worldwide",
}

REGIONS = {
    "europe": "Europe",
    "north_america": "North America",
    "latin_america": "Latin America and the Caribbean",
    "africa": "Africa",
    "middle_east": "Middle East",
    "asia": "Asia",
    "oceania": "Oceania",
}

LANGUAGE_OPTIONS = {
    "original": "Original language",
    "translation": "Translation",
}

PORTIONS = {
    "full": "Full text",
    "excerpt": "Excerpt",
    "headline_summary": "Headline and summary",
}

TERMS = {
    "one_month": "One month",
    "one_year": "One year",
    "perpetual": "Perpetual",
}

#: the longest excerpt that may be asked for (words)
MAX_EXCERPT_WORDS = 5000


@cache
def countries() -> dict[str, str]:
    """ISO 3166 alpha-2 code -> English name, sorted by name."""
    names = Locale("en").territories
    pairs = [(code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()]
    # ZZ (unknown region) and the private-use codes are not countries.
    pairs = [(c, n) for c, n in pairs if c not in {"ZZ", "XA", "XB", "QO", "EU", "EZ", "UN"}]
    return dict(sorted(pairs, key=lambda pair: pair[1]))


@cache
def languages() -> dict[str, str]:
    """ISO 639-1 code -> English name, sorted by name."""
    names = Locale("en").languages
    pairs = [(code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()]
    return dict(sorted(pairs, key=lambda pair: pair[1]))
