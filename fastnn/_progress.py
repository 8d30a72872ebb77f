"""A progress bar: tqdm when installed (the study extra), otherwise a silent stand-in."""


class _Silent:
    def update(self, k=1):
        pass

    def set_postfix_str(self, s, refresh=True):
        pass

    def set_description(self, s):
        pass

    def close(self):
        pass


def progress_bar(total, quiet=False, unit="it", initial=0):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Silent()
    return tqdm(total=total, initial=initial, unit=unit, disable=quiet, dynamic_ncols=True)
