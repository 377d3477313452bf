import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import TopKControl from './TopKControl.svelte';

function setup(value = 10) {
  const onchange = vi.fn();
  render(TopKControl, { value, onchange });
  const input = screen.getByLabelText('Results to show') as HTMLInputElement;
  return { onchange, input };
}

describe('TopKControl', () => {
  it('starts at the given value with the 1–100 bounds', () => {
    const { input } = setup();
    expect(input.value).toBe('10');
    expect(input.min).toBe('1');
    expect(input.max).toBe('100');
  });

  it('emits a valid new value when committed', async () => {
    const { input, onchange } = setup();
    await fireEvent.input(input, { target: { value: '25' } });
    await fireEvent.change(input);
    expect(onchange).toHaveBeenCalledWith(25);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('emits on Enter too, and not at all when the value did not change', async () => {
    const { input, onchange } = setup(10);
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(onchange).not.toHaveBeenCalled();
    input.value = '3';
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(onchange).toHaveBeenCalledWith(3);
  });

  it.each([
    ['0', /from 1 to 100/],
    ['101', /from 1 to 100/],
    ['2.5', /whole number/],
    ['', /how many results/]
  ])('rejects %j with a message and does not emit', async (text, message) => {
    const { input, onchange } = setup();
    input.value = text;
    await fireEvent.change(input);
    expect(onchange).not.toHaveBeenCalled();
    expect(screen.getByRole('alert').textContent).toMatch(message);
    expect(input.getAttribute('aria-invalid')).toBe('true');
  });

  it('clears the message once a valid value is committed', async () => {
    const { input, onchange } = setup();
    input.value = '500';
    await fireEvent.change(input);
    expect(screen.getByRole('alert')).toBeTruthy();
    input.value = '50';
    await fireEvent.change(input);
    expect(onchange).toHaveBeenCalledWith(50);
    expect(screen.queryByRole('alert')).toBeNull();
    expect(input.hasAttribute('aria-invalid')).toBe(false);
  });
});
