import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import ServerStarting from './ServerStarting.svelte';

const MB = 1024 * 1024;
const model = { id: 'resnet50', name: 'ResNet-50' };

describe('ServerStarting', () => {
  it('shows the first-start download as a percentage of its size, on a labelled bar', () => {
    render(ServerStarting, {
      starting: {
        status: 'starting',
        model: { ...model, downloading: { receivedBytes: 0.455 * 94 * MB, totalBytes: 94 * MB } }
      }
    });
    const bar = screen.getByLabelText(/Downloading the model/) as HTMLProgressElement;
    expect(bar.tagName).toBe('PROGRESS');
    expect(bar.max).toBe(94 * MB);
    expect(screen.getByTestId('server-starting').textContent).toMatch(
      /Downloading the model “ResNet-50”:\s+45 % of 94\.0 MB/
    );
  });

  it('shows the bytes so far when the size is not known yet', () => {
    render(ServerStarting, {
      starting: {
        status: 'starting',
        model: { ...model, downloading: { receivedBytes: 3 * MB, totalBytes: null } }
      }
    });
    expect(screen.getByTestId('server-starting').textContent).toMatch(/“ResNet-50”:\s+3\.0 MB/);
  });

  it('says the server is starting once nothing is downloading', () => {
    render(ServerStarting, { starting: { status: 'starting', model } });
    expect(screen.queryByRole('progressbar')).toBeNull();
    expect(screen.getByTestId('server-starting').textContent).toContain(
      'Starting the server with the model “ResNet-50”'
    );
  });
});
