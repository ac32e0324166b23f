"""Where data lives and how it is laid out: file formats (``formats``) and, beside them, the
filesystems and layouts that read and write them."""
