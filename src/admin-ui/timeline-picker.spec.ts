import { describe, expect, it } from '@jest/globals';
import { accountToShow, pickerChanged, pickerOptions } from './public/timeline-picker.js';

describe('pickerOptions', () => {
  it('lists the accounts by appId, once each, whatever their trouble order', () => {
    expect(pickerOptions(['wx-c', 'wx-a', 'wx-b', 'wx-a'])).toEqual(['wx-a', 'wx-b', 'wx-c']);
    expect(pickerOptions([])).toEqual([]);
  });
});

describe('pickerChanged', () => {
  const listed = ['wx-a', 'wx-b', 'wx-c'];

  it('is false while the same accounts come in another (trouble) order: the picker is not rebuilt', () => {
    expect(pickerChanged(listed, ['wx-c', 'wx-a', 'wx-b'])).toBe(false);
    expect(pickerChanged(listed, ['wx-b', 'wx-c', 'wx-a'])).toBe(false);
  });

  it('is true when an account came or went', () => {
    expect(pickerChanged(listed, ['wx-a', 'wx-b'])).toBe(true);
    expect(pickerChanged(listed, ['wx-a', 'wx-b', 'wx-c', 'wx-d'])).toBe(true);
    expect(pickerChanged(listed, ['wx-a', 'wx-b', 'wx-x'])).toBe(true);
    expect(pickerChanged([], ['wx-a'])).toBe(true);
  });
});

describe('accountToShow', () => {
  it('keeps the account shown while it exists, even when another is in more trouble', () => {
    expect(accountToShow('wx-b', ['wx-a', 'wx-b'])).toBe('wx-b');
  });

  it('otherwise shows the account in most trouble (the first of the order), or none', () => {
    expect(accountToShow(null, ['wx-z', 'wx-a'])).toBe('wx-z');
    expect(accountToShow('wx-gone', ['wx-z', 'wx-a'])).toBe('wx-z');
    expect(accountToShow('wx-gone', [])).toBeNull();
  });
});
