"""split_clips as described: frame indices of the clips a split is cut into, from its per-frame video ids."""
import numpy as np


def resample(ori_len, target_len):
    """target_len frame indices spread evenly over ori_len frames, each the floor or the ceiling of the even
    position at random (so short videos repeat frames), within [0, ori_len - 1]."""
    even = np.linspace(0, ori_len, num=target_len, endpoint=False)
    choice = np.random.randint(2, size=target_len)
    picked = np.sort(np.where(choice == 1, np.floor(even), np.ceil(even)))
    return np.clip(picked, 0, ori_len - 1).astype(np.uint32)


def split_clips(vid_list, n_frames, data_stride):
    """Walk the rows; inside a run of one video id emit windows of n_frames every data_stride rows. A video
    that ends without any full window gives one resampled clip, except the last video of the list (the walk
    stops at the last row before looking at it)."""
    clips = []
    total = len(vid_list)
    run_start = 0
    while run_start < total:
        run_end = run_start + 1
        while run_end < total and vid_list[run_end] == vid_list[run_start]:
            run_end += 1
        length = run_end - run_start
        if length >= n_frames:
            for a in range(run_start, run_end - n_frames + 1, data_stride):
                clips.append(range(a, a + n_frames))
        elif run_end < total:
            clips.append(resample(length, n_frames) + run_start)
        run_start = run_end
    return clips
