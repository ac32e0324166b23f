"""Where file data lives and how it is laid out: filesystems, formats and layouts."""
