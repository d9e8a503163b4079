"""The Jobs console: static pages that use only the public Jobs API."""
