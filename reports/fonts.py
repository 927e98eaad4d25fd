"""The fonts reports are drawn with, each named once: the charts (matplotlib), the PDF's CSS (WeasyPrint) and
`make fonts` (which reads the four names below from this file: keep each a one-line string) all use these,
so a report's Chinese comes from one known font whatever other CJK fonts the machine happens to have."""

LATIN_FONT = "DejaVu Sans"  # the family fontconfig and matplotlib list (matplotlib ships its own copy)
LATIN_FONT_PACKAGE = "fonts-dejavu-core"  # Debian's package of it
CJK_FONT = "Noto Sans CJK SC"  # Simplified Chinese, drawn after the latin font for what it lacks
CJK_FONT_PACKAGE = "fonts-noto-cjk"  # Debian's package of it (a .ttc: matplotlib reads its SC face since 3.11)
