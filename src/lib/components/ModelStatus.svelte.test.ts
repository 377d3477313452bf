import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encoderState } from '$lib/state/encoder.svelte';
import ModelStatus from './ModelStatus.svelte';

afterEach(() => {
  vi.restoreAllMocks();
  encoderState.phase = 'idle';
  encoderState.error = undefined;
});

describe('ModelStatus', () => {
  it('offers Retry when the model failed to load, and retries on press', async () => {
    const retry = vi.spyOn(encoderState, 'retry').mockResolvedValue();
    encoderState.error = 'the server cannot be reached and no copy of the model is saved';
    encoderState.phase = 'failed';
    render(ModelStatus);
    expect(screen.getByRole('alert').textContent).toContain('no copy of the model is saved');
    await fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it('shows download progress with its label tied to the bar', () => {
    encoderState.phase = 'downloading';
    encoderState.loaded = 512 * 1024;
    encoderState.total = 1024 * 1024;
    render(ModelStatus);
    const bar = screen.getByLabelText(/Loading the model/) as HTMLProgressElement;
    expect(bar.tagName).toBe('PROGRESS');
    expect(screen.queryByRole('button', { name: 'Retry' })).toBeNull();
  });
});

describe('encoderState.connectionChanged', () => {
  it('retries a failed load when the server comes back, once per return', () => {
    const retry = vi.spyOn(encoderState, 'retry').mockResolvedValue();
    encoderState.phase = 'failed';
    encoderState.connectionChanged(false);
    expect(retry).not.toHaveBeenCalled();
    encoderState.connectionChanged(true);
    expect(retry).toHaveBeenCalledTimes(1);
    // Still online (a later poll): no retry loop for a model that fails for another reason.
    encoderState.connectionChanged(true);
    expect(retry).toHaveBeenCalledTimes(1);
    encoderState.phase = 'ready';
    encoderState.connectionChanged(false);
    encoderState.connectionChanged(true);
    expect(retry).toHaveBeenCalledTimes(1);
  });
});
