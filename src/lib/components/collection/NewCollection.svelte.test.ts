import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import NewCollection from './NewCollection.svelte';

/** GET /api/models as a server on EfficientNet-Lite0 with ResNet-50 not installed answers. */
const MODELS = [
  {
    id: 'efficientnet-lite0',
    name: 'EfficientNet-Lite0',
    dimension: 1280,
    synthetic: false,
    default: true,
    available: true,
    availability: 'in-use',
    note: "A real ImageNet model; this server's model, loaded."
  },
  {
    id: 'resnet50',
    name: 'ResNet-50',
    dimension: 2048,
    synthetic: false,
    default: false,
    available: false,
    availability: 'downloadable',
    note: 'A real ImageNet model; not installed: npx lookalike model fetch resnet50 on the server.'
  },
  {
    id: 'tiny',
    name: 'Tiny test network',
    dimension: 128,
    synthetic: true,
    default: false,
    available: true,
    availability: 'generatable',
    note: 'Random weights: search results mean nothing (for trying the app); generated on first use (seconds).'
  }
];

function serveModels(answer: () => Response) {
  const fetch = vi.fn(async (request: Request) => {
    expect(new URL(request.url).pathname).toBe('/api/models');
    return answer();
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const props = (oncreate = vi.fn(async () => {})) => ({
  serverModel: 'efficientnet-lite0',
  models: ['efficientnet-lite0'],
  taken: ['default'],
  oncreate
});

async function openForm() {
  await fireEvent.click(screen.getByText('New collection…'));
  return screen.findByRole('combobox', { name: 'Model' });
}

describe('NewCollection', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('offers the models the server knows, says which work now and how to get the others', async () => {
    const fetch = serveModels(() => json({ models: MODELS }));
    render(NewCollection, props());
    const select = (await openForm()) as HTMLSelectElement;
    await waitFor(() => expect(select.options).toHaveLength(3));
    expect(fetch).toHaveBeenCalledTimes(1);
    const options = [...select.options];
    expect(options.map((o) => o.value)).toEqual(['efficientnet-lite0', 'resnet50', 'tiny']);
    expect(options[0]!.textContent).toBe("EfficientNet-Lite0 (efficientnet-lite0) — this server's");
    expect(options[1]!.textContent).toBe('ResNet-50 (resnet50) — not installed');
    expect(options[1]!.disabled).toBe(true);
    expect(options[2]!.textContent).toBe(
      'Tiny test network (tiny) — random weights, results not meaningful'
    );
    expect(options[2]!.disabled).toBe(false);
    expect(select.value).toBe('efficientnet-lite0');
    expect(screen.getByTestId('model-note').textContent).toContain("this server's model");
    // How to get the ones not installed, in the server's words.
    const missing = screen.getByTestId('models-to-install');
    expect(
      within(missing)
        .getByText(/ResNet-50/)
        .closest('li')!.textContent
    ).toContain('npx lookalike model fetch resnet50');
    await fireEvent.change(select, { target: { value: 'tiny' } });
    expect(screen.getByTestId('model-note').textContent).toContain('search results mean nothing');
  });

  it("creates with the chosen model, or the server's own when left as it is", async () => {
    serveModels(() => json({ models: MODELS }));
    const oncreate = vi.fn(async () => {});
    render(NewCollection, props(oncreate));
    const select = (await openForm()) as HTMLSelectElement;
    await waitFor(() => expect(select.options).toHaveLength(3));
    await fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'walls' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(oncreate).toHaveBeenCalledWith('walls', undefined));

    await openForm();
    await fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'noise' } });
    await fireEvent.change(screen.getByRole('combobox', { name: 'Model' }), {
      target: { value: 'tiny' }
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(oncreate).toHaveBeenLastCalledWith('noise', 'tiny'));
  });

  it("falls back to the server's model when the list cannot be read, and says so", async () => {
    serveModels(() => json({ error: { code: 'internal', message: 'boom' } }, 500));
    render(NewCollection, props());
    const select = (await openForm()) as HTMLSelectElement;
    await waitFor(() => expect(screen.getByTestId('models-error').textContent).toContain('boom'));
    expect([...select.options].map((o) => o.value)).toEqual(['efficientnet-lite0']);
  });
});
