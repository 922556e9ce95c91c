"""A sphinx-gallery image scraper for pyconv's examples.

The examples save their figures as PNG files into ``$PYCONV_EXAMPLES_OUT``
(they are plain scripts, run from a shell too). After each code block this
scraper shows the PNGs that block wrote or rewrote.
"""
import shutil


class ExampleOutputScraper:
    """Show the PNGs written into ``out_dir`` by the block just run."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self._seen = {}

    def __repr__(self):  # stable across builds: sphinx-gallery hashes it
        return "ExampleOutputScraper()"

    def __call__(self, block, block_vars, gallery_conf):
        from sphinx_gallery.scrapers import figure_rst

        fresh = []
        for png in sorted(self.out_dir.glob("*.png")):
            stamp = png.stat().st_mtime_ns
            if self._seen.get(png.name) != stamp:
                self._seen[png.name] = stamp
                fresh.append(png)
        images = []
        for png, dest in zip(fresh, block_vars["image_path_iterator"]):
            shutil.copyfile(png, dest)
            images.append(dest)
        return figure_rst(images, gallery_conf["src_dir"])
