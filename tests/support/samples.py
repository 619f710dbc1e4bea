"""Files of every supported kind, made by the tests themselves (no binary fixtures in git)."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

BACKUP_TEXT = (
    "PostgreSQL writes every change to the write-ahead log before the data files. "
    "To restore a backup, stop the server, copy the base backup and replay the WAL. "
)


def text_pdf(path: Path, pages: list[tuple[str, str]], *, title: str = "") -> Path:
    """A PDF with a text layer: one (heading, body) per page; `title` in its metadata."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.add_font("dj", "", FONT)
    pdf.add_font("dj", "B", FONT_BOLD)
    for heading, body in pages:
        pdf.add_page()
        pdf.set_font("dj", "B", 18)
        pdf.cell(0, 12, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("dj", "", 11)
        pdf.multi_cell(0, 6, body)
    pdf.output(str(path))
    return path


def labelled_pdf(
    path: Path,
    pages: list[tuple[str, str]],
    *,
    front_matter: int,
    prefix: str = "",
    title: str = "",
) -> Path:
    """`text_pdf` with page labels as a printed book has them: the first `front_matter` pages
    numbered i, ii, ..., the rest 1, 2, ... (so physical page front_matter + 1 is printed 1).
    `prefix` goes before the body's numbers ("A-" prints A-1, A-2, ...; a PDF's page label
    prefix is any text its author chose); `title` is the metadata title."""
    from pypdf import PdfWriter
    from pypdf.constants import PageLabelStyle

    plain = text_pdf(path.with_suffix(".plain.pdf"), pages, title=title)
    writer = PdfWriter(clone_from=str(plain))
    if front_matter:
        writer.set_page_label(0, front_matter - 1, style=PageLabelStyle.LOWERCASE_ROMAN)
    writer.set_page_label(
        front_matter, len(pages) - 1, style=PageLabelStyle.DECIMAL, start=1, prefix=prefix or None
    )
    with path.open("wb") as out:
        writer.write(out)
    plain.unlink()
    return path


def blank_pdf(path: Path) -> Path:
    """A valid PDF with a page and no text anywhere (not even an image to OCR)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.output(str(path))
    return path


def encrypted_pdf(path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = text_pdf(path.with_suffix(".plain.pdf"), [("Secret", "Salaries for 2026.")])
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt(user_password="open-sesame", owner_password="owner")
    with path.open("wb") as out:
        writer.write(out)
    plain.unlink()
    return path


def text_image(lines: list[str], *, font: str = FONT, size: int = 40) -> Image.Image:
    """Black text on white, large enough for OCR at 200 dpi."""
    face = ImageFont.truetype(font, size)
    height = len(lines) * int(size * 1.8) + 80
    image = Image.new("RGB", (1600, height), "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((40, 40 + number * int(size * 1.8)), line, font=face, fill="black")
    return image


def png(path: Path, lines: list[str], *, font: str = FONT) -> Path:
    text_image(lines, font=font).save(path, "PNG")
    return path


def scanned_pdf(path: Path, pages: list[list[str]], *, font: str = FONT) -> Path:
    """An image-only PDF (no text layer), one scanned page per list of lines, at 200 dpi."""
    images = [text_image(lines, font=font) for lines in pages]
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=200)
    return path


def mixed_pdf(path: Path, *, text: tuple[str, str], scan: list[str]) -> Path:
    """Three pages as a scanned-in manual has them: one with a text layer, one scanned (an
    image, no text layer) and an empty one."""
    pdf = FPDF()
    pdf.add_font("dj", "", FONT)
    pdf.add_font("dj", "B", FONT_BOLD)
    pdf.add_page()
    pdf.set_font("dj", "B", 18)
    pdf.cell(0, 12, text[0], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("dj", "", 11)
    pdf.multi_cell(0, 6, text[1])
    pdf.add_page()
    pdf.image(text_image(scan), x=0, y=0, w=pdf.w)
    pdf.add_page()
    pdf.output(str(path))
    return path


def printed_manual_pdf(path: Path, bodies: list[str], *, furniture: str) -> Path:
    """Pages as a printed manual has them: a body in the middle, a running footer line at the
    bottom of every page, and the page number in roman then arabic numerals."""
    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.add_font("dj", "", FONT)
    pdf.set_font("dj", "", 11)
    labels = ["i", "ii", *(str(n) for n in range(1, len(bodies)))]
    for body, label in zip(bodies, labels, strict=False):
        pdf.add_page()
        pdf.set_y(40)
        pdf.multi_cell(120, 6, body)
        pdf.set_y(-30)
        pdf.multi_cell(150, 6, furniture)
        pdf.cell(0, 6, label)
    pdf.output(str(path))
    return path


def docx(path: Path) -> Path:
    from docx import Document

    document = Document()
    document.add_heading("Backup policy", level=1)
    document.add_paragraph(BACKUP_TEXT * 3)
    document.add_heading("Retention", level=2)
    document.add_paragraph("Backups are kept for thirty days and then deleted.")
    table = document.add_table(rows=3, cols=2)
    for row, (system, owner) in enumerate(
        [("System", "Owner"), ("billing", "Ann"), ("crm", "Boris")]
    ):
        table.cell(row, 0).text = system
        table.cell(row, 1).text = owner
    document.save(str(path))
    return path


def doc(path: Path) -> Path:
    """Legacy Word: the .docx sample converted by LibreOffice (also what parses .doc)."""
    import subprocess

    source = docx(path.with_suffix(".docx"))
    subprocess.run(
        [
            "/usr/bin/soffice",
            "--headless",
            "--convert-to",
            "doc",
            "--outdir",
            str(path.parent),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    source.unlink()
    return path.with_suffix(".doc")


def epub(path: Path) -> Path:
    import pypandoc

    pypandoc.convert_text(
        "# Chapter One\n\nThe lighthouse keeper logs every ship that passes.\n",
        "epub",
        format="md",
        outputfile=str(path),
        extra_args=["--metadata", "title=Log"],
    )
    return path


def xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Servers"
    for row in [("host", "role", "city"), ("db1", "primary", "Oslo"), ("db2", "replica", "Москва")]:
        sheet.append(row)
    workbook.save(str(path))
    return path


def pptx(path: Path) -> Path:
    from pptx import Presentation

    deck = Presentation()
    for heading, bullet in [("Roadmap", "Ship the search page"), ("Risks", "Disk runs full")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = heading
        slide.placeholders[1].text = bullet
    deck.save(str(path))
    return path


def csv_file(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerows([("id", "name", "city"), (1, "Ann", "Oslo"), (2, "Борис", "Москва")])
    return path


def html(path: Path) -> Path:
    path.write_text(
        "<html><body><h1>Mail server</h1><p>Postfix delivers mail for the company. "
        "It listens on port 25.</p><h2>Spam filtering</h2><p>SpamAssassin scores every "
        "message before delivery.</p></body></html>",
        encoding="utf-8",
    )
    return path


def markdown(path: Path) -> Path:
    path.write_text(
        "# Deployment\n\nThe service runs behind nginx.\n\n## Rollback\n\n"
        "Run the previous release's migration in reverse.\n",
        encoding="utf-8",
    )
    return path


def text(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def zip_of(path: Path, files: dict[str, Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            archive.write(source, name)
    return path
